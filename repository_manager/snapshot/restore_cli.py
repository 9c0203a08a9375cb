"""``dagster-ecs dev restore FILE`` and ``dev up --snapshot FILE``: the dev stack in a
snapshot's shape, then what still differs (the local stack's declared differences)."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from repository_manager.dags.errors import DagsError
from repository_manager.repos.errors import RepoError
from repository_manager.settings import StackSettings
from repository_manager.snapshot.model import Snapshot, SnapshotError
from repository_manager.snapshot.restore import check_reachable, registry_configs, restore


def checked(path: Path) -> Snapshot:
    """The snapshot, its registry entries valid and their repositories reachable: everything
    a restore checks before it starts or changes anything."""
    snapshot = Snapshot.read(path)
    check_reachable(registry_configs(snapshot))
    return snapshot


def run_restore(snapshot: Snapshot, settings: StackSettings, console: Console) -> None:
    """Raises :class:`SnapshotError` (one line) when a step fails."""
    from repository_manager.repos.targets import dev_target
    from repository_manager.snapshot.source import open_source

    try:
        remaining = restore(
            snapshot,
            open_source("dev"),
            dev_target(settings),
            lambda line: console.print(f"  [dim]…[/dim] {line}"),
        )
    except (RepoError, DagsError) as error:
        raise SnapshotError(str(error)) from None
    except WaiterError as error:
        raise SnapshotError(f"the restored services did not become stable: {error}") from None
    except (ClientError, BotoCoreError) as error:
        raise SnapshotError(f"restore stopped: {error}") from None
    source = snapshot.environment.name
    if not remaining:
        console.print(f"restored: no differences from the snapshot of {source}")
        return
    table = Table(
        "field",
        "here",
        f"snapshot of {source}",
        title=f"restored; {len(remaining)} field(s) differ as the local stack's own "
        "(docs/snapshots.md, Restore)",
    )
    for difference in remaining:
        table.add_row(*(Text(v) for v in (difference.field, difference.left, difference.right)))
    console.print(table)
