"""Runs the AWS API emulator (moto in server mode) in the foreground.

Started as ``python -m localstack.server --port 4566``. The process is the single source of
truth for the emulated AWS account; everything else talks to it over HTTP. By default the ECS
emulation hook (``ecs_local.emulator_hook``) is installed, so that the ECS runtime
(``python -m ecs_local``) can make the ECS API report what really runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

DEFAULT_REGION = "ap-southeast-2"


def _configure_environment() -> None:
    # AWS-managed policies (AmazonECSTaskExecutionRolePolicy, ...) exist only when loaded at start.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)


def serve(host: str, port: int, ecs_hook: bool = True) -> None:
    _configure_environment()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)
    app: Any = moto_app
    if ecs_hook:
        from ecs_local.emulator_hook import install
        from localstack import shims

        shims.install()
        app = install(moto_app)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"emulator listening on http://{host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local AWS API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument(
        "--no-ecs-hook",
        action="store_true",
        help="plain moto: no ECS runtime hook, no shims (the reference for benchmarks and tests)",
    )
    args = parser.parse_args()
    serve(args.host, args.port, ecs_hook=not args.no_ecs_hook)


if __name__ == "__main__":
    main()
