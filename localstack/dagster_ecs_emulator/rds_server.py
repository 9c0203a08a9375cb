"""One real PostgreSQL server behind one emulated RDS DB instance.

The cluster is made and started with the dev stack's helpers (``repository_manager.devstack
.postgres``: binaries, ``initdb``, running as ``nobody`` under root). The server gets its own
session, so a Ctrl-C or a signal to the emulator's process group reaches the emulator, which then
shuts each server down with PostgreSQL's fast shutdown instead of a smart one that would wait for
clients to disconnect.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dagster_ecs_emulator import postgres

HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
NO_UNIX_SOCKET = ("-c", "unix_socket_directories=")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _failure(path: Path) -> str:
    """The line of the server's log that says why it stopped."""
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    fatal = [line for line in lines if "FATAL" in line or "PANIC" in line]
    return (fatal or lines or ["no output"])[-1]


@dataclass(frozen=True)
class PostgresServer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return HOST

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def version(self) -> str:
        return (postgres.data_dir(self.directory) / "PG_VERSION").read_text().strip()

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; removes the data."""
        for sig, timeout in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 5.0)):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _wait_ready(server: PostgresServer, user: str, password: str) -> None:
    import psycopg2

    deadline = time.monotonic() + READY_TIMEOUT_S
    log = server.directory / "postgres.log"
    while True:
        if server.process.poll() is not None:
            raise postgres.PostgresError(f"postgres exited: {_failure(log)}")
        try:
            psycopg2.connect(
                host=HOST,
                port=server.port,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=2,
            ).close()
            return
        except psycopg2.OperationalError as error:
            if time.monotonic() > deadline:
                raise postgres.PostgresError(
                    f"postgres not ready after {READY_TIMEOUT_S:.0f} s: {error}"
                ) from error
        time.sleep(0.05)


def start(directory: Path, user: str, password: str, database: str | None) -> PostgresServer:
    """``initdb`` in ``directory`` (``user`` is the cluster's superuser), start on a free port,
    create ``database`` owned by ``user``. On failure nothing is left running or on disk."""
    binaries = postgres.find_binaries()
    directory.mkdir(parents=True)
    server: PostgresServer | None = None
    try:
        postgres.ensure_cluster(binaries, directory, password, superuser=user)
        port = _free_port()
        with open(directory / "postgres.log", "ab") as log:
            process = subprocess.Popen(
                # TCP only, as RDS: a socket path under a deep state dir can exceed 107 bytes.
                [*postgres.server_argv(binaries, directory, HOST, port), *NO_UNIX_SOCKET],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **postgres.drop_privileges_kwargs(postgres.server_user()),
            )
        server = PostgresServer(directory, port, process)
        _wait_ready(server, user, password)
        if database:
            postgres.ensure_database(HOST, port, password, user=user, name=database)
        return server
    except BaseException:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
