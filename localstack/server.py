"""Runs the AWS API emulator (moto in server mode) in the foreground.

Started as ``python -m localstack.server --port 4566``. The process is the single source of
truth for the emulated AWS account; everything else talks to it over HTTP.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

DEFAULT_REGION = "ap-southeast-2"


def _configure_environment() -> None:
    # AWS-managed policies (AmazonECSTaskExecutionRolePolicy, ...) exist only when loaded at start.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)


def serve(host: str, port: int) -> None:
    _configure_environment()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    print(f"emulator listening on http://{host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local AWS API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
