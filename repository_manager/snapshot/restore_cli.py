"""``dagster-ecs dev restore FILE`` and ``dev up --snapshot FILE``: the dev stack in a
snapshot's shape, then what still differs (the local stack's declared differences)."""

from __future__ import annotations

import time
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

HEALTHY_TIMEOUT_S = 300.0


def checked(path: Path) -> Snapshot:
    """The snapshot, its registry entries valid and their repositories reachable: everything
    a restore checks before it starts or changes anything."""
    snapshot = Snapshot.read(path)
    check_reachable(registry_configs(snapshot))
    return snapshot


def _wait_healthy(settings: StackSettings, timeout: float = HEALTHY_TIMEOUT_S) -> None:
    """Restarted services are stable for ECS before Dagster answers: wait until it does."""
    from repository_manager.devstack import health

    began = time.monotonic()
    while (problem := health.dagster(settings)) is not None:
        if time.monotonic() - began > timeout:
            raise SnapshotError(f"restored, but Dagster is not healthy: {problem}")
        time.sleep(0.5)


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
            settle=lambda: _wait_healthy(settings),
        )
    except (RepoError, DagsError) as error:
        raise SnapshotError(str(error)) from None
    except WaiterError as error:
        raise SnapshotError(f"the restored services did not become stable: {error}") from None
    except (ClientError, BotoCoreError) as error:
        raise SnapshotError(f"restore stopped: {error}") from None
    _wait_healthy(settings)
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
