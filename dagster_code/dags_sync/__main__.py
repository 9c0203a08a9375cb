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
import sys

import boto3

from dagster_code.dags_sync.agent import AgentConfig, SyncAgent, SyncConfigError
from dagster_code.dags_sync.manifest import SyncStatus
from dagster_code.dags_sync.settings import (
    MissingSetting,
    agent_config,
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


def _agent(server_command: list[str]) -> tuple[AgentConfig, SyncAgent]:
    config = agent_config(os.environ, server_command)
    return config, SyncAgent(config, boto3.client("s3"))


def health() -> int:
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
    print(f"serving deployment {status.deployment}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_code.dags_sync")
    parser.add_argument("mode", choices=["prepare", "watch", "health"])
    parser.add_argument("--parent", type=int, help="watch: stop when this process is gone")
    parser.add_argument("server_command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [a for a in args.server_command if a != "--"] if args.server_command else []
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    if args.mode == "health":
        return health()
    try:
        _config, agent = _agent(command)
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
