"""``dagster-ecs repo …``: add, remove, list and follow the logs of repositories."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from repository_manager import logs as service_logs
from repository_manager.cli_support import new_app
from repository_manager.devstack import logs as devlogs
from repository_manager.repos import manager, resources
from repository_manager.repos.errors import RepoError
from repository_manager.repos.targets import target_for

repo_app = new_app("Repositories as code locations: add, remove, list, logs.")
console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

EnvOption = Annotated[
    str,
    typer.Option(
        "--env",
        help="dev: the `make dev` stack; local: the tofu environment (tofu creates the "
        "location; update and sync not yet); aws: not yet.",
    ),
]
EmulatorOption = Annotated[
    str | None,
    typer.Option(help="--env local: the emulator it lives in (default: the dev stack's)."),
]


def _fail(error: RepoError) -> None:
    for line in error.details:
        console.print(f"  [dim]|[/dim] {line}")
    error_console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(1)


_began = time.monotonic()


def _progress(line: str) -> None:
    console.print(f"  [dim]…[/dim] {line} [dim]({time.monotonic() - _began:.1f} s)[/dim]")


@repo_app.command("add")
def add(
    url: Annotated[str, typer.Option("--url", help="https://, ssh or file:// Git URL.")],
    name: Annotated[str, typer.Option("--name", help="Repository (code location) name.")],
    branch: Annotated[str, typer.Option(help="Branch to deploy.")] = "main",
    python_file: Annotated[
        str | None, typer.Option("--python-file", help="Definitions file in the repository.")
    ] = None,
    module: Annotated[
        str | None, typer.Option("--module", help="Definitions module, e.g. pkg.definitions.")
    ] = None,
    read_from: Annotated[
        list[str] | None,
        typer.Option(
            "--read-from",
            help="A registered repository whose assets this one may read (repeatable).",
        ),
    ] = None,
    dags_dir: Annotated[
        str | None,
        typer.Option(
            "--dags-dir",
            help="The folder `deploy-dags` replaces (default: the definitions' package).",
        ),
    ] = None,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
) -> None:
    """Add a Git repository as an isolated code location; returns once it is LOADED."""
    try:
        target = target_for(env, emulator_url)
        request = manager.AddRequest(
            name=name,
            git_url=url,
            branch=branch,
            python_file=python_file,
            module=module,
            dags_dir=dags_dir,
            read_from=read_from or [],
        )
        config = manager.add_repo(target, request, _progress)
    except RepoError as error:
        _fail(error)
        return
    console.print(f"[bold]{config.name} added[/bold]: {target.ui_link(config.name)}")


@repo_app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Repository name.")],
    force: Annotated[
        bool, typer.Option(help="Rebuild and roll even if the commit is the same.")
    ] = False,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
) -> None:
    """Fetch the branch; if its commit moved, rebuild the image and roll the service."""
    try:
        config = manager.update_repo(target_for(env, emulator_url), name, _progress, force=force)
    except RepoError as error:
        _fail(error)
        return
    if config is not None:
        console.print(f"[bold]{name} updated[/bold] to {(config.commit or '')[:12]}")


@repo_app.command("sync")
def sync(env: EnvOption = "dev", emulator_url: EmulatorOption = None) -> None:
    """Fetch every repository; roll those whose commit moved."""
    try:
        updated = manager.sync_repos(target_for(env, emulator_url), _progress)
    except RepoError as error:
        _fail(error)
        return
    console.print(f"updated: {', '.join(updated)}" if updated else "every repository is current")


@repo_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Repository name.")],
    purge: Annotated[
        bool, typer.Option(help="Also delete everything under its S3 prefix.")
    ] = False,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
) -> None:
    """Remove a repository: its service, Cloud Map service, role, logs, image, registry entry."""
    try:
        manager.remove_repo(target_for(env, emulator_url), name, purge=purge, progress=_progress)
    except RepoError as error:
        _fail(error)
    console.print(f"[bold]{name} removed[/bold]")


@repo_app.command("list")
def list_command(env: EnvOption = "dev", emulator_url: EmulatorOption = None) -> None:
    """Every registered repository: URL, branch, commit, status, image, S3 prefix, UI link."""
    try:
        rows = manager.list_repos(target_for(env, emulator_url))
    except RepoError as error:
        _fail(error)
        return
    if not rows:
        console.print("no repositories registered; add one with `make add-repo`")
        return
    table = Table("name", "url", "branch", "commit", "status", "image", "s3 prefix", "ui")
    for row in rows:
        table.add_row(
            row.name,
            row.git_url,
            row.branch,
            row.commit,
            row.status,
            row.image,
            row.s3_prefix,
            row.ui,
        )
    console.print(table)


@repo_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8710,
    env: EnvOption = "dev",
) -> None:
    """Serve the Repository Manager REST API (OpenAPI at /docs); bearer token from Secrets
    Manager (secret dagster-ecs/repository-manager-token, created when missing)."""
    import uvicorn

    from repository_manager.repos.api import TOKEN_SECRET, create_app, ensure_token

    try:
        first = target_for(env)
    except RepoError as error:
        _fail(error)
        return
    token = ensure_token(first.client("secretsmanager"))
    console.print(
        f"Repository Manager on http://{host}:{port} (token: Secrets Manager {TOKEN_SECRET})"
    )
    uvicorn.run(
        create_app(lambda: target_for(env), token), host=host, port=port, log_level="warning"
    )


def _follow(ecs: Any, cloudwatch: Any, cluster: str, name: str, limit: int) -> None:
    service = resources.service_name(name)
    sources: list[devlogs.LogSource] = [
        devlogs.CloudWatchSource(service, cloudwatch, group, prefix)
        for group, prefix in service_logs.log_targets(ecs, cluster, service)
    ]
    sources.append(service_logs.RunLogsSource(name, ecs, cloudwatch, cluster))
    for component, line in devlogs.follow(sources, lines=limit, follow=True):
        typer.echo(line if component == "runs" else f"[{component}] {line}")


@repo_app.command("logs")
def logs(
    name: Annotated[str, typer.Argument(help="Repository name.")],
    limit: Annotated[int, typer.Option(help="Show the last N lines.")] = 200,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
    env: EnvOption = "dev",
) -> None:
    """The repository's code server logs, then its runs' logs, from CloudWatch Logs."""
    try:
        target = target_for(env)
        if target.registry.get(name) is None:
            raise RepoError(f"no repository {name!r} is registered")
        ecs, cloudwatch = target.client("ecs"), target.client("logs")
        cluster = target.platform.cluster
        if follow:
            _follow(ecs, cloudwatch, cluster, name, limit)
            return
        lines = service_logs.read_logs(
            ecs, cloudwatch, cluster, resources.service_name(name), limit
        )
        lines += service_logs.run_log_lines(ecs, cloudwatch, cluster, name, limit)
    except (RepoError, LookupError) as error:
        _fail(error if isinstance(error, RepoError) else RepoError(str(error)))
        return
    for line in lines:
        typer.echo(line)
