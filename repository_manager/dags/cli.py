"""``dagster-ecs dags …``: deploy, roll back and inspect DAG deployments."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from repository_manager.cli_support import new_app
from repository_manager.dags import history, status
from repository_manager.dags.errors import DagsError
from repository_manager.dags.publish import (
    Published,
    check_not_nested,
    check_source,
    git_commit,
    publish,
)
from repository_manager.dags.rollback import rollback
from repository_manager.dags.target import DagsTarget, dags_target
from repository_manager.repos.names import validate_repo_name
from repository_manager.repos.registry import Registry
from repository_manager.settings import project_root

dags_app = new_app("DAG deployments: upload to S3, roll back, see what each location serves.")
console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

EnvOption = Annotated[
    str,
    typer.Option("--env", help="dev: the `make dev` stack; local: the tofu environment; aws: AWS."),
]
WaitOption = Annotated[
    bool, typer.Option(help="Wait until every running task of the location serves it.")
]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for the tasks.")]
EmulatorOption = Annotated[
    str | None,
    typer.Option(help="--env local: the emulator it lives in (default: the dev stack's)."),
]


def _fail(error: Exception) -> None:
    error_console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(1)


def _location(name: str) -> str:
    if name != "main":
        try:
            validate_repo_name(name)
        except ValueError as error:
            raise DagsError(str(error)) from None
    return name


def _locations(target: DagsTarget, only: str | None) -> list[str]:
    if only:
        return [_location(only)]
    names = status.location_names(target.ecs, target.cluster)
    if not names:
        raise DagsError(f"no code locations run in cluster {target.cluster}; start the stack first")
    return names


def _report(target: DagsTarget, published: Published, wait: bool, timeout: float) -> None:
    deployment = published.deployment
    what = f"rollback to {deployment.rolled_back_to}" if deployment.rolled_back_to else "deployment"
    console.print(
        f"{deployment.location}: {what} [bold]{deployment.id}[/bold] "
        f"({len(published.uploaded)} uploaded, {len(published.deleted)} deleted, "
        f"{published.unchanged} unchanged)"
    )
    if not wait:
        return
    seconds = status.wait_served(
        target.s3,
        target.ecs,
        target.bucket,
        target.cluster,
        deployment.location,
        deployment.id,
        timeout,
    )
    console.print(f"{deployment.location}: served by every running task in {seconds:.1f} s")


@dags_app.command("deploy")
def deploy(
    location: Annotated[
        str | None,
        typer.Option("--location", help="Code location (default: every one with a DAG folder)."),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="The DAG folder (default: dags/<location>/ of this project)."),
    ] = None,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
    wait: WaitOption = True,
    timeout: TimeoutOption = 180.0,
) -> None:
    """Upload a location's DAG folder as a new deployment; running code servers pick it up."""
    try:
        if source is not None and location is None:
            raise DagsError("--source needs --location: say which code location it is for")
        target = dags_target(env, emulator_url)
        names = _locations(target, location)
        folders = {name: source or project_root() / "dags" / name for name in names}
        if location is None:
            folders = {name: folder for name, folder in folders.items() if folder.is_dir()}
            if not folders:
                raise DagsError("no dags/<location>/ folder matches a running code location")
        checked = {name: check_source(folder) for name, folder in folders.items()}
        registry = Registry(target.s3, target.bucket)
        for name, files in checked.items():
            entry = registry.get(name)
            check_not_nested(folders[name], files, entry[0].dags_dir if entry else None)
        for name, files in checked.items():
            published = publish(
                target.s3, target.bucket, name, files, commit=git_commit(folders[name])
            )
            _report(target, published, wait, timeout)
    except DagsError as error:
        _fail(error)


@dags_app.command("rollback")
def rollback_command(
    location: Annotated[str, typer.Option("--location", help="Code location.")] = "main",
    to: Annotated[int | None, typer.Option("--to", help="Deployment id to restore.")] = None,
    steps: Annotated[int, typer.Option(help="How many deployments back (without --to).")] = 1,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
    wait: WaitOption = True,
    timeout: TimeoutOption = 180.0,
) -> None:
    """Restore an earlier deployment's files as a new deployment."""
    try:
        target = dags_target(env, emulator_url)
        published = rollback(target.s3, target.bucket, _location(location), to=to, steps=steps)
        _report(target, published, wait, timeout)
    except DagsError as error:
        _fail(error)


def _age(report_time: object) -> str:
    stamp = getattr(report_time, "timestamp", None)
    if stamp is None:
        return "-"
    return f"{max(0.0, time.time() - stamp()):.0f} s ago"


@dags_app.command("status")
def status_command(
    location: Annotated[str | None, typer.Option("--location", help="One location.")] = None,
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
) -> None:
    """Per location and task: the deployment served, last sync, last error, health."""
    try:
        target = dags_target(env, emulator_url)
        table = Table("location", "latest", "task", "serving", "synced", "state", "health")
        errors: list[str] = []
        for name in _locations(target, location):
            sync = status.location_sync(target.s3, target.ecs, target.bucket, target.cluster, name)
            latest = str(sync.latest) if sync.latest is not None else "-"
            if not sync.tasks:
                table.add_row(name, latest, "-", "-", "-", "no running task", "-")
            for task in sync.tasks:
                report = task.report
                table.add_row(
                    name,
                    latest,
                    task.task_id[:12],
                    report.deployment if report else "?",
                    _age(report.synced_at) if report else "-",
                    report.state if report else "not reporting",
                    task.health,
                )
                if report is not None and report.last_error:
                    errors.append(f"{name} {task.task_id[:12]}: {report.last_error}")
        console.print(table)
        for line in errors:
            console.print(f"last error: {line}")
    except DagsError as error:
        _fail(error)


@dags_app.command("history")
def history_command(
    location: Annotated[str, typer.Option("--location", help="Code location.")] = "main",
    env: EnvOption = "dev",
    emulator_url: EmulatorOption = None,
) -> None:
    """Every deployment of a location: id, time, commit, files."""
    try:
        target = dags_target(env, emulator_url)
        name = _location(location)
        table = Table("id", "created", "commit", "files", "note")
        for deployment_id in history.deployment_ids(target.s3, target.bucket, name):
            d = history.get(target.s3, target.bucket, name, deployment_id)
            note = f"rollback to {d.rolled_back_to}" if d.rolled_back_to else ""
            table.add_row(
                str(d.id),
                d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                (d.git_commit or "-")[:10],
                str(len(d.files)),
                note,
            )
        console.print(table)
    except DagsError as error:
        _fail(error)
