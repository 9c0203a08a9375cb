"""``python -m dagster_code.dags_sync prepare|watch|health -- <code server command>``.

The platform image's entrypoint runs ``prepare`` before it starts a code server (it prints the
tree the server loads, ``DAGS_DIR``), then ``watch`` in the background while the server runs.
``health`` is the container health check: it fails after ``DAG_SYNC_UNHEALTHY_AFTER`` failed
intervals in a row (3 by default).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dagster_code.dags_sync.manifest import MAX_BACKOFF_INTERVALS, SyncStatus
from dagster_code.dags_sync.settings import (
    MissingSetting,
    agent_config,
    agent_credentials,
    interval,
    own_address,
    sync_root,
    unhealthy_after,
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if TYPE_CHECKING:
    from dagster_code.dags_sync.agent import SyncAgent

STALE_GRACE_SECONDS = 30


def _agent(server_command: list[str]) -> SyncAgent:
    """Imported here: the health check, run every interval, needs neither boto3 nor gRPC."""
    import boto3

    from dagster_code.dags_sync.agent import SyncAgent

    config = agent_config(os.environ, server_command)
    key_id, secret = agent_credentials(os.environ)
    s3 = boto3.client("s3", aws_access_key_id=key_id, aws_secret_access_key=secret)
    return SyncAgent(config, s3)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((own_address(os.environ), port), timeout=2):
            return True
    except OSError:
        return False


def health(port: int | None) -> int:
    """Healthy while the code server accepts connections on ``port`` and the agent is syncing:
    fewer than ``DAG_SYNC_UNHEALTHY_AFTER`` failed intervals in a row, and a status no older
    than that many backed-off intervals (a dead agent stops refreshing it)."""
    if port is not None and not _port_open(port):
        print(f"code server not accepting connections on port {port}", file=sys.stderr)
        return 1
    if os.environ.get("DAG_SYNC_INTERVAL", "").strip() == "0":
        print("serving the image's DAGs (DAG sync off)")
        return 0
    location = os.environ.get("DAGSTER_REPO_NAME", "main")
    status_file = sync_root(os.environ, location) / "status.json"
    if not status_file.is_file():
        print(f"DAG sync has not started ({status_file} missing)", file=sys.stderr)
        return 1
    status = SyncStatus.model_validate_json(status_file.read_text())
    limit = unhealthy_after(os.environ)
    if status.consecutive_failures >= limit:
        print(
            f"DAG sync failed {status.consecutive_failures} intervals in a row: "
            f"{status.last_error}",
            file=sys.stderr,
        )
        return 1
    try:
        every = interval(os.environ)
    except MissingSetting as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    silent = (datetime.now(UTC) - status.checked_at).total_seconds()
    if silent > limit * MAX_BACKOFF_INTERVALS * every + STALE_GRACE_SECONDS:
        print(f"DAG sync has not reported for {silent:.0f} s", file=sys.stderr)
        return 1
    print(f"serving deployment {status.deployment}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_code.dags_sync")
    parser.add_argument("mode", choices=["prepare", "watch", "health"])
    parser.add_argument("--parent", type=int, help="watch: stop when this process is gone")
    parser.add_argument("--port", type=int, help="health: the code server's gRPC port")
    argv = sys.argv[1:] if argv is None else argv
    own, command = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(own)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    if args.mode == "health":
        return health(args.port)
    from dagster_code.dags_sync.agent import SyncConfigError

    try:
        agent = _agent(command)
        if args.mode == "prepare":
            print(agent.start())
            return 0
        parent = args.parent
        agent.run(stop_when=lambda: parent is not None and not _alive(parent))
    except (MissingSetting, SyncConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 78
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
