"""``dagster-ecs snapshot`` and ``dagster-ecs parity``."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from repository_manager import environments
from repository_manager.environments import ENVIRONMENTS
from repository_manager.snapshot.model import Snapshot, SnapshotError
from repository_manager.snapshot.parity import compare
from repository_manager.snapshot.policy import read_only_policy
from repository_manager.snapshot.source import open_source

console = Console(highlight=False, soft_wrap=True, emoji=False)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

EnvOption = Annotated[
    str,
    typer.Option("--env", help="dev: the `make dev` stack; local: the tofu environment; aws: AWS."),
]
EmulatorOption = Annotated[
    str | None,
    typer.Option(help="--env local: the emulator it lives in (default: the dev stack's)."),
]


def snapshot_command(
    env: EnvOption = "dev",
    out: Annotated[Path, typer.Option(help="Where to write the snapshot.")] = Path("snapshot.json"),
    emulator_url: EmulatorOption = None,
    print_policy: Annotated[
        bool, typer.Option(help="Print the least-privilege IAM policy a snapshot needs, and stop.")
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(help="Also hold this run (selection, config, tags, DAG release, outcome)."),
    ] = None,
    webserver_url: Annotated[
        str | None,
        typer.Option(
            help="With --run-id: the Dagster webserver to read it from (default: dev's own; "
            "local: the applied webserver_port; aws: `tofu output load_balancer_url`)."
        ),
    ] = None,
) -> None:
    """What an environment runs, as a file (reads only; never a secret value)."""
    try:
        source = open_source(env, emulator_url, webserver_url)
        if print_policy:
            print(json.dumps(read_only_policy(source.bucket), indent=2))
            return
        folder = out.resolve().parent
        if not folder.is_dir():
            raise SnapshotError(f"cannot write {out}: folder {folder} does not exist")
        taken = source.snapshot(run_id)
        _write(taken, out)
    except SnapshotError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    for line in taken.contents:
        console.print(f"  {line}", markup=False)
    console.print(f"snapshot of {env} written to {out}")


def _write(snapshot: Snapshot, out: Path) -> None:
    """All or nothing: a half-written snapshot never replaces a good one."""
    handle, temporary = tempfile.mkstemp(dir=out.resolve().parent, prefix=f".{out.name}.")
    os.close(handle)
    try:
        snapshot.write(Path(temporary))
        os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _is_file(name: str) -> bool:
    return name not in ENVIRONMENTS


def _read_side(name: str) -> Snapshot:
    path = Path(name)
    if not path.exists():
        raise SnapshotError(
            f"{name!r} is neither an environment ({', '.join(ENVIRONMENTS)}) nor a snapshot file"
        )
    return Snapshot.read(path)


def parity_command(
    env: EnvOption = "aws",
    against: Annotated[
        str, typer.Option(help="dev, local, aws, or a snapshot file to compare with.")
    ] = "dev",
    emulator_url: EmulatorOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The differences as JSON: field, left, right.")
    ] = False,
) -> None:
    """What differs between two environments (or one and a snapshot), field by field.

    Exit status as diff(1)'s: 0 the same, 1 different, 2 trouble."""
    try:
        if emulator_url is not None and "local" not in (env, against):
            raise SnapshotError("--emulator-url is for --env local (or --against local)")
        files = {name: _read_side(name) for name in (env, against) if _is_file(name)}
        left, right = (
            files.get(name)
            or open_source(name, emulator_url if name == "local" else None).snapshot()
            for name in (env, against)
        )
    except SnapshotError as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    differences = compare(left, right)
    if as_json:
        print(json.dumps([dataclasses.asdict(d) for d in differences], indent=2))
    elif not differences:
        console.print(f"no differences between {env} and {against}")
    if as_json or not differences:
        raise typer.Exit(1 if differences else 0)
    table = Table("field", env, against, title=f"{len(differences)} difference(s)")
    for difference in differences:
        table.add_row(*(Text(v) for v in (difference.field, difference.left, difference.right)))
    console.print(table)
    raise typer.Exit(1)


def replay_command(
    snapshot: Annotated[
        Path, typer.Option(help="The snapshot holding the run (`make snapshot RUN_ID=…`).")
    ] = Path("snapshot.json"),
    run_id: Annotated[
        str | None, typer.Option(help="The run to replay; must be the snapshot's run.")
    ] = None,
    latest: Annotated[
        bool,
        typer.Option(help="Run on what the location serves now, not the run's DAG release."),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run to end.")] = 600,
) -> None:
    """Launch a snapshot's run again on the dev stack and compare how it ends with production.

    Exit status: 0 it ends as in production (reproduced), 1 it ends otherwise, 2 trouble."""
    from repository_manager.snapshot.replay import replay, the_run

    try:
        run = the_run(Snapshot.read(snapshot), run_id)
        source = open_source("dev")
        assert source.webserver_url is not None
        s3 = environments.resolve("dev").client("s3")
        result = replay(
            run,
            source.webserver_url,
            s3,
            source.bucket,
            latest=latest,
            timeout=timeout,
            progress=lambda line: console.print(f"  … {line}", markup=False),
        )
    except (SnapshotError, environments.TargetError) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    table = Table("", f"production ({run.run_id[:8]})", f"here ({result.here.run_id[:8]})")
    for label, theirs, ours in (
        ("status", run.status, result.here.status),
        ("failure", run.failure or "—", result.here.failure or "—"),
    ):
        table.add_row(label, Text(theirs), Text(ours))
    console.print(table)
    if result.same:
        console.print("reproduced: the replay ends as the production run did")
        raise typer.Exit(0)
    console.print("differs: the replay ends otherwise than the production run")
    raise typer.Exit(1)
