"""Runs the AWS API emulator (moto in server mode) in the foreground.

Started as ``python -m dagster_ecs_emulator.server --port 4566``. The process is the single source
of truth for the emulated AWS account; everything else talks to it over HTTP. By default the ECS
emulation hook (``dagster_ecs_emulator.ecs_hook``) is installed, so that the ECS runtime
(``python -m ecs_local``) can make the ECS API report what really runs, with the shims
(``shims``) and real PostgreSQL servers behind RDS DB instances (``rds``).
State that lives outside moto's memory (those servers' data) goes under ``--state-dir``, by
default a temporary folder removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster_ecs_emulator.identity import StackIdentity, identity_app

DEFAULT_REGION = "ap-southeast-2"


def _configure_environment() -> None:
    # AWS-managed policies (AmazonECSTaskExecutionRolePolicy, ...) exist only when loaded at start.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)


@contextlib.contextmanager
def _state_dir(configured: Path | None) -> Iterator[Path]:
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        yield configured.resolve()
        return
    temporary = Path(tempfile.mkdtemp(prefix="dagster-ecs-emulator-"))
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def serve(
    host: str,
    port: int,
    ecs_hook: bool = True,
    state_dir: Path | None = None,
    seed_file: Path | None = None,
    identity: StackIdentity | None = None,
    access_log: Path | None = None,
) -> None:
    with _state_dir(state_dir) as state:
        _serve(host, port, ecs_hook, state, seed_file, identity, access_log)


def _request_handler(base: type[Any], access_log: Path | None) -> type[Any]:
    """Moto's request handler with its access log (one line per API call) in its own file, or
    nowhere: the emulator's log keeps what a person reads, not every poll of every client."""
    sink = open(access_log, "a", buffering=1) if access_log is not None else None  # noqa: SIM115

    class QuietHandler(base):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if sink is not None:
                sink.write(f"{self.log_date_time_string()} {self.requestline!r} {code} {size}\n")

    return QuietHandler


def _serve(
    host: str,
    port: int,
    ecs_hook: bool,
    state_dir: Path,
    seed_file: Path | None,
    identity: StackIdentity | None,
    access_log: Path | None,
) -> None:
    _configure_environment()
    if ecs_hook:
        from dagster_ecs_emulator import shims

        # Fargate runs no AMI; moto's ~1,300 default AMIs cost 0.5 s of CPU at the first EC2 call.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        shims.install()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)
    app: Any = moto_app
    databases = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ecs_hook:
        from dagster_ecs_emulator import rds
        from dagster_ecs_emulator.ecs_hook import install

        databases = rds.install(state_dir)
        app = install(moto_app)
    try:
        if seed_file is not None:
            from dagster_ecs_emulator.seed import SeedSpec, seed

            seed(SeedSpec.take(seed_file))
        if identity is not None:
            app = identity_app(app, identity)
        handler = _request_handler(MotoRequestHandler, access_log)
        server = make_server(host, port, app, threaded=True, request_handler=handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        print(f"emulator listening on http://{host}:{port}", flush=True)
        stop.wait()
        server.shutdown()
    finally:
        if databases is not None:
            databases.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local AWS API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument(
        "--no-ecs-hook",
        action="store_true",
        help="plain moto: no ECS runtime hook, no shims (the reference for benchmarks and tests)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the emulator keeps state outside memory (default: a temporary folder, "
        "removed at exit)",
    )
    parser.add_argument(
        "--seed",
        type=Path,
        help="a seed spec (seed.SeedSpec) to create before serving; the file is removed",
    )
    parser.add_argument("--stack-id", help="the id of the stack this emulator belongs to")
    parser.add_argument("--stack-dir", help="that stack's state folder (reported with its id)")
    parser.add_argument(
        "--access-log", type=Path, help="file for one line per request (default: none)"
    )
    args = parser.parse_args()
    identity = None
    if args.stack_id:
        identity = StackIdentity(stack_id=args.stack_id, state_dir=args.stack_dir or "")
    serve(
        args.host,
        args.port,
        ecs_hook=not args.no_ecs_hook,
        state_dir=args.state_dir,
        seed_file=args.seed,
        identity=identity,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
