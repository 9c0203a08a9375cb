"""``dagster-ecs dev …``: the local stack's verbs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dagster_ecs_emulator.postgres import PostgresError
from repository_manager import credentials, stackfile
from repository_manager.cli_support import ENVIRONMENT_HELP, new_app
from repository_manager.devstack import components, stack
from repository_manager.devstack.logs import follow
from repository_manager.settings import StackSettings
from repository_manager.snapshot import restore_cli
from repository_manager.snapshot.model import Snapshot, SnapshotError

dev_app = new_app(f"Run the platform locally against the emulated AWS.\n\n{ENVIRONMENT_HELP}")
console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings() -> StackSettings:
    try:
        return StackSettings.from_env()
    except ValueError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


def _own_settings() -> StackSettings:
    """This checkout's stack, which must be running; else one line and exit 1."""
    settings = _settings()
    try:
        stackfile.require_own(settings)
    except stackfile.StackError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    return settings


@dev_app.command("up")
def up(
    with_repos: Annotated[
        bool,
        typer.Option("--with-repos", help="Add again every repository this stack had registered."),
    ] = False,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="Then restore this snapshot: its repositories at their commits, roles' "
            "policies, task definitions, scaling and DAGs (`make dev SNAPSHOT=…`).",
        ),
    ] = None,
) -> None:
    """Start the stack in the background, wait until all is healthy, print the UI URL."""
    settings = _settings()
    wanted = _checked_snapshot(snapshot) if snapshot is not None else None
    try:
        started = stack.up(settings, console)
    except (stack.StackError, PostgresError) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    if with_repos:
        _add_remembered(started)
    if wanted is not None:
        _restore(wanted, started)
    _exit_at_once()


def _checked_snapshot(path: Path) -> Snapshot:
    try:
        return restore_cli.checked(path)
    except SnapshotError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


def _restore(snapshot: Snapshot, settings: StackSettings) -> None:
    try:
        restore_cli.run_restore(snapshot, settings, console)
    except SnapshotError as error:
        error_console.print(f"[red]error:[/red] {error}")
        sys.stdout.flush()
        os._exit(1)


@dev_app.command("restore")
def restore(
    snapshot: Annotated[Path, typer.Argument(help="A file `dagster-ecs snapshot` wrote.")],
) -> None:
    """Bring the running stack to a snapshot's shape, then show what still differs."""
    wanted = _checked_snapshot(snapshot)
    _restore(wanted, _own_settings())
    _exit_at_once()


def _add_remembered(settings: StackSettings) -> None:
    from repository_manager.repos import manager
    from repository_manager.repos.errors import RepoError
    from repository_manager.repos.targets import dev_target

    try:
        failures = manager.add_remembered(
            dev_target(settings), lambda line: console.print(f"  [dim]…[/dim] {line}")
        )
    except RepoError as error:
        failures = [str(error)]
    for failure in failures:
        error_console.print(f"[red]error:[/red] {failure}")
    if failures:
        sys.stdout.flush()
        os._exit(1)


def _exit_at_once() -> None:
    """The stack runs detached from this process: give the prompt back without the
    interpreter's teardown, ~0.2 s of freeing the AWS SDK's API models."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@dev_app.command("stop")
def stop() -> None:
    """Stop every component of the stack and every process they started."""
    stack.stop(_settings(), console)


@dev_app.command("status")
def status() -> None:
    """Show what runs, on which port, and whether it is healthy."""
    table = Table("component", "pid", "port", "state", "detail", "logs")
    for row in stack.status(_settings()):
        colour = {"healthy": "green", "stopped": "dim", "scaled to zero": "yellow"}.get(
            row.state, "red"
        )
        table.add_row(
            row.name,
            row.pid,
            str(row.port or "-"),
            f"[{colour}]{row.state}[/{colour}]",
            row.detail,
            row.log,
        )
    console.print(table)


@dev_app.command("logs")
def logs(
    component: Annotated[
        str | None,
        typer.Argument(
            help=f"One of: {', '.join(components.PROCESSES)} (emulator: with its access "
            "log), or an ECS service (cl-main, webserver, daemon); all when omitted."
        ),
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines of history to show.")] = 20,
    no_follow: Annotated[bool, typer.Option("--no-follow", help="Print and exit.")] = False,
) -> None:
    """Follow the logs of every process and ECS service of the stack, or of one."""
    settings = _settings()
    sources = stack.log_sources(settings, emulator_access=component == components.EMULATOR)
    if component is not None:
        sources = [source for source in sources if source.name == component]
        if not sources:
            known = ", ".join(source.name for source in stack.log_sources(settings))
            error_console.print(
                f"[red]error:[/red] unknown component {component!r}; choose one of: {known}"
            )
            raise typer.Exit(2)
    width = max(len(source.name) for source in sources)
    try:
        for name, line in follow(sources, lines=lines, follow=not no_follow):
            console.print(Text.assemble((f"{name:<{width}}", "cyan"), " | ", line))
    except KeyboardInterrupt:
        pass


@dev_app.command("env")
def env() -> None:
    """Print shell exports (endpoint, region, the administrator's keys) for any AWS tool:
    eval "$(dagster-ecs dev env)" and the aws CLI, terraform or a boto3 script use the stack."""
    typer.echo(credentials.shell_exports(_own_settings()), nl=False)


@dev_app.command("reset")
def reset() -> None:
    """Stop the stack, wipe PostgreSQL and emulator state, and start it again."""
    settings = _settings()
    stack.reset(settings, console)
    up()
