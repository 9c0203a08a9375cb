"""``python -m ecs_local --endpoint URL --state-dir DIR``: the ECS agent + service scheduler.

The runtime's own AWS calls (Secrets Manager, SSM, STS, CloudWatch Logs, Cloud Map) use the
standard credential chain of this process; task processes never inherit those credentials.
SIGTERM/SIGINT stop the runtime but leave the tasks running (as the ECS agent does): the next
runtime process adopts them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import urllib.error
from pathlib import Path

from ecs_local.controller import Controller
from ecs_local.hook_client import HookClient, HookError
from ecs_local.images import ImageStore
from ecs_local.metadata import MetadataServer
from ecs_local.runtime import LocalProcessRuntime

DEFAULT_METADATA_PORT = 51679


def _metadata_port(requested: int | None, state_dir: Path) -> int:
    """The port is baked into running tasks' environment, so it stays the same across restarts."""
    saved = state_dir / "runtime.json"
    if requested is None and saved.exists():
        return int(json.loads(saved.read_text())["metadataPort"])
    return DEFAULT_METADATA_PORT if requested is None else requested


def _first_snapshot(hook: HookClient, wait: float) -> None:
    """Waits up to ``wait`` seconds for the emulator to listen (it may still be booting)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            hook.snapshot()
            return
        except urllib.error.URLError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _use_credentials(path: Path) -> None:
    keys = json.loads(path.read_text())
    os.environ["AWS_ACCESS_KEY_ID"] = keys["aws_access_key_id"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = keys["aws_secret_access_key"]
    os.environ.pop("AWS_SESSION_TOKEN", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ecs_local", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    )
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--images", type=Path, default=None, help="image store JSON (see ecs_local.images)"
    )
    parser.add_argument(
        "--metadata-port",
        type=int,
        default=None,
        help=f"default {DEFAULT_METADATA_PORT}, then the saved one",
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-2"))
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--wait-for-endpoint",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long to wait for the emulator to answer (default: fail at once)",
    )
    parser.add_argument(
        "--credentials-file",
        type=Path,
        help="JSON with aws_access_key_id/aws_secret_access_key, read once the emulator answers "
        "(where IAM is enforced, the agent signs its calls as the account's administrator)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s ecs_local %(levelname)s %(message)s"
    )

    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        _first_snapshot(HookClient(args.endpoint), args.wait_for_endpoint)
        if args.credentials_file is not None:
            _use_credentials(args.credentials_file)
        images = ImageStore.load(args.images, state_dir)
    except (HookError, OSError, ValueError, KeyError) as error:
        print(f"ecs_local: {error}", file=sys.stderr)
        return 2
    port = _metadata_port(args.metadata_port, state_dir)
    try:
        server = MetadataServer(port)
    except OSError as error:
        print(
            f"ecs_local: cannot serve task metadata on 127.0.0.1:{port}: {error}; "
            "pass another --metadata-port",
            file=sys.stderr,
        )
        return 2
    controller = Controller(
        args.endpoint, state_dir, images, LocalProcessRuntime(), server.port, args.region
    )
    (state_dir / "runtime.json").write_text(
        json.dumps({"metadataPort": server.port, "pid": os.getpid()})
    )
    adopted = controller.adopt()
    server.start(controller.endpoints)

    def stop(*_: object) -> None:
        controller.stopping.set()
        controller.wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("ecs_local").info(
        "runtime ready: endpoint %s, metadata 127.0.0.1:%s, %d task(s) adopted",
        args.endpoint,
        server.port,
        adopted,
    )
    print(f"ecs_local ready metadata_port={server.port} adopted={adopted}", flush=True)
    controller.run()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
