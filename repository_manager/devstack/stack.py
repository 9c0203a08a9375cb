"""Starts, inspects and stops the local stack (``make dev``, ``make status``, ``make stop``)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console

from localstack.seed import SeedSpec, seed
from repository_manager import instance_config
from repository_manager.devstack import components as c
from repository_manager.devstack import health, postgres, processes
from repository_manager.settings import (
    CLUSTER_NAME,
    LOCAL_BUCKET,
    MAIN_LOCATION,
    NAMESPACE_NAME,
    POSTGRES_SECRET_NAME,
    REGION,
    StackSettings,
)

START_TIMEOUT_S = 180.0
PORT_VARIABLES = {
    c.EMULATOR: "DAGSTER_ECS_EMULATOR_PORT",
    c.POSTGRES: "DAGSTER_ECS_POSTGRES_PORT",
    c.CODE_SERVER: "DAGSTER_ECS_CODE_SERVER_PORT",
    c.WEBSERVER: "DAGSTER_ECS_WEBSERVER_PORT",
}


class StackError(RuntimeError):
    """A one-line, actionable reason why the stack could not start."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    state: str
    detail: str
    log_path: Path


def _port_of(settings: StackSettings, name: str) -> int | None:
    return {
        c.EMULATOR: settings.ports.emulator,
        c.POSTGRES: settings.ports.postgres,
        c.CODE_SERVER: settings.ports.code_server,
        c.WEBSERVER: settings.ports.webserver,
    }.get(name)


def log_path(settings: StackSettings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def _port_owner(port: int) -> str:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            listening = conn.status == psutil.CONN_LISTEN
            if conn.laddr and conn.laddr.port == port and listening and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return ""


def check_ports_free(settings: StackSettings) -> None:
    seen: dict[int, str] = {}
    for name, variable in PORT_VARIABLES.items():
        port = _port_of(settings, name)
        assert port is not None
        if port in seen:
            raise StackError(
                f"{name} and {seen[port]} are both set to port {port}; change {variable}"
            )
        seen[port] = name
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((settings.host, port))
            except OSError:
                raise StackError(
                    f"port {port} for the {name} is already in use{_port_owner(port)}; "
                    f"free it or set {variable} to another port"
                ) from None


def running_components(settings: StackSettings) -> list[str]:
    return [
        name
        for name in c.ALL
        if (record := processes.read(settings.run_dir, name)) is not None and record.is_running()
    ]


def _password(settings: StackSettings) -> str | None:
    path = postgres.password_file(settings.postgres_dir)
    return path.read_text().strip() if path.exists() else None


def _write_dagster_files(settings: StackSettings) -> None:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(
        instance_config.to_yaml(instance_config.instance_config())
    )
    workspace = instance_config.workspace_config(
        [
            instance_config.CodeLocationAddress(
                MAIN_LOCATION, settings.host, settings.ports.code_server
            )
        ]
    )
    (settings.dagster_home / "workspace.yaml").write_text(instance_config.to_yaml(workspace))


class _Starter:
    def __init__(self, settings: StackSettings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.started: list[str] = []
        self.password: str | None = None

    def start(self, component: c.Component) -> None:
        processes.start(
            component.name,
            component.argv,
            env=component.env,
            cwd=self.settings.root,
            run_dir=self.settings.run_dir,
            log_path=log_path(self.settings, component.name),
            user=component.user,
        )
        self.started.append(component.name)
        self.console.print(f"  [dim]…[/dim] {component.name} starting")

    def wait_healthy(self, names: Sequence[str], timeout: float = START_TIMEOUT_S) -> None:
        began = time.monotonic()
        pending = list(names)
        reasons: dict[str, str] = {}
        with self.console.status("") as status:
            while pending:
                status.update(f"waiting for {', '.join(pending)}")
                for name in list(pending):
                    record = processes.read(self.settings.run_dir, name)
                    if record is None or not record.is_running():
                        code = record.exit_code() if record else None
                        path = log_path(self.settings, name)
                        tail = processes.last_lines(path)
                        cause = f": {tail[0].strip()}" if tail else ""
                        raise StackError(
                            f"{name} exited"
                            + (f" with code {code}" if code is not None else "")
                            + f" during start-up{cause} (log: {path})"
                        )
                    reason = health.check(name, self.settings, self.password)
                    if reason is None:
                        pending.remove(name)
                        port = _port_of(self.settings, name)
                        where = f" on {self.settings.host}:{port}" if port else ""
                        self.console.print(
                            f"  [green]✓[/green] {name} ready{where} "
                            f"({time.monotonic() - began:.1f} s)"
                        )
                    else:
                        reasons[name] = reason
                if pending and time.monotonic() - began > timeout:
                    name = pending[0]
                    raise StackError(
                        f"{name} not healthy after {timeout:.0f} s ({reasons.get(name)}) "
                        f"(log: {log_path(self.settings, name)})"
                    )
                if pending:
                    time.sleep(0.2)

    def rollback(self) -> None:
        for name in reversed(self.started):
            processes.stop(self.settings.run_dir, name, stop_signal=_stop_signal(name))


def _stop_signal(name: str) -> int:
    import signal

    return signal.SIGINT if name == c.POSTGRES else signal.SIGTERM


def up(settings: StackSettings, console: Console) -> None:
    """Starts every component and returns once all are healthy; on failure stops what it started."""
    running = running_components(settings)
    if running:
        if len(running) == len(c.ALL) and all(
            health.check(name, settings, _password(settings)) is None for name in running
        ):
            console.print(f"already running: Dagster UI at {settings.webserver_url}")
            return
        raise StackError(
            f"the stack is partly running ({', '.join(running)}); run `make stop` first"
        )
    check_ports_free(settings)
    binaries = postgres.find_binaries()
    starter = _Starter(settings, console)
    try:
        console.print(f"starting the local stack in {settings.state_dir}")
        starter.password = postgres.ensure_cluster(binaries, settings.postgres_dir)
        _write_dagster_files(settings)
        starter.start(c.emulator(settings))
        starter.start(c.postgres_server(settings, binaries))
        starter.wait_healthy([c.EMULATOR, c.POSTGRES])
        postgres.ensure_database(settings.host, settings.ports.postgres, starter.password)
        seed(settings.emulator_url, seed_spec(settings, starter.password))
        console.print("  [green]✓[/green] emulator seeded (bucket, secret, cluster, namespace)")
        for component in c.dagster_components(settings, starter.password):
            starter.start(component)
        starter.wait_healthy([c.CODE_SERVER, c.WEBSERVER, c.DAEMON])
    except BaseException:
        starter.rollback()
        raise
    console.print(f"[bold]Dagster UI: {settings.webserver_url}[/bold]")


def seed_spec(settings: StackSettings, password: str) -> SeedSpec:
    return SeedSpec(
        region=REGION,
        bucket=LOCAL_BUCKET,
        cluster=CLUSTER_NAME,
        namespace=NAMESPACE_NAME,
        postgres_secret_name=POSTGRES_SECRET_NAME,
        postgres_secret={
            "username": postgres.DB_USER,
            "password": password,
            "host": settings.host,
            "port": settings.ports.postgres,
            "dbname": postgres.DB_NAME,
        },
        log_groups=tuple(
            f"/ecs/dagster-ecs/{name}" for name in (c.WEBSERVER, c.DAEMON, MAIN_LOCATION)
        ),
    )


def stop(settings: StackSettings, console: Console) -> list[str]:
    stopped = []
    for name in reversed(c.ALL):
        if processes.stop(settings.run_dir, name, stop_signal=_stop_signal(name)):
            stopped.append(name)
            console.print(f"  stopped {name}")
    if not stopped:
        console.print("nothing was running")
    return stopped


def status(settings: StackSettings) -> list[ComponentStatus]:
    password = _password(settings)
    result = []
    for name in c.ALL:
        record = processes.read(settings.run_dir, name)
        path = log_path(settings, name)
        port = _port_of(settings, name)
        if record is None:
            result.append(ComponentStatus(name, None, port, "stopped", "", path))
        elif not record.is_running():
            result.append(ComponentStatus(name, record.pid, port, "crashed", "process ended", path))
        else:
            reason = health.check(name, settings, password)
            state = "healthy" if reason is None else "unhealthy"
            result.append(ComponentStatus(name, record.pid, port, state, reason or "", path))
    return result


def reset(settings: StackSettings, console: Console) -> None:
    """Stops the stack, wipes PostgreSQL and Dagster state (the emulator keeps none on disk)."""
    stop(settings, console)
    for folder in (settings.postgres_dir, settings.dagster_home, settings.run_dir):
        shutil.rmtree(folder, ignore_errors=True)
    console.print("  wiped PostgreSQL data, Dagster home and emulator state")
