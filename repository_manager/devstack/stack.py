"""Starts, inspects and stops the local stack (``make dev``, ``make status``, ``make stop``).

Three supervised processes — the emulator, PostgreSQL and the ECS runtime — and, on top, the
platform's ECS services (code locations, webserver, daemon) deployed through the ECS API of the
emulator with the same deploy code as AWS. The runtime makes those services really run.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from dagster_ecs_emulator import postgres
from dagster_ecs_emulator.seed import SeedSpec
from repository_manager import credentials, deploy, stackfile
from repository_manager.devstack import components as c
from repository_manager.devstack import dagster_schema, health, local_platform, processes
from repository_manager.devstack.logs import CloudWatchSource, FileSource, LogSource
from repository_manager.logs import log_targets, task_log_tail
from repository_manager.settings import (
    CLUSTER_NAME,
    LOCAL_BUCKET,
    MAIN_LOCATION,
    NAMESPACE_NAME,
    POSTGRES_SECRET_NAME,
    REGION,
    STACK_TAG,
    StackSettings,
)
from repository_manager.stackfile import StackError

START_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 45.0
POLL_S = 0.05
DAGSTER_POLL_S = 0.1
FAILURE_CHECK_S = 0.5
SEED_FILE = "emulator-seed.json"
INTENDED_STOPS = ("UserInitiated", "ServiceSchedulerInitiated")
EMULATOR_SERVICES = ("ecs", "ec2", "iam", "secretsmanager", "servicediscovery", "logs")
PORT_VARIABLES = {
    c.EMULATOR: "DAGSTER_ECS_EMULATOR_PORT",
    c.POSTGRES: "DAGSTER_ECS_POSTGRES_PORT",
    "code location": "DAGSTER_ECS_CODE_SERVER_PORT",
    "webserver": "DAGSTER_ECS_WEBSERVER_PORT",
}


__all__ = ["StackError"]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: str
    port: int | None
    state: str
    detail: str
    log: str


def _port_of(settings: StackSettings, name: str) -> int | None:
    return {
        c.EMULATOR: settings.ports.emulator,
        c.POSTGRES: settings.ports.postgres,
        "code location": settings.ports.code_server,
        "webserver": settings.ports.webserver,
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
                f"the {name} and the {seen[port]} are both set to port {port}; change {variable}"
            )
        seen[port] = name
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                raise StackError(
                    f"port {port} for the {name} is already in use{_port_owner(port)}; "
                    f"free it or set {variable} to another port"
                ) from None


def running_components(settings: StackSettings) -> list[str]:
    return [
        name
        for name in c.PROCESSES
        if (record := processes.read(settings.run_dir, name)) is not None and record.is_running()
    ]


def _password(settings: StackSettings) -> str | None:
    path = postgres.password_file(settings.postgres_dir)
    return path.read_text().strip() if path.exists() else None


def _stop_signal(name: str) -> int:
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to leave.
    return signal.SIGINT if name == c.POSTGRES else signal.SIGTERM


def _crash_reason(settings: StackSettings, name: str) -> str:
    record = processes.read(settings.run_dir, name)
    code = record.exit_code() if record else None
    path = log_path(settings, name)
    tail = processes.last_lines(path)
    cause = f": {tail[0].strip()}" if tail else ""
    exited = f"{name} exited" + (f" with code {code}" if code is not None else "")
    return f"{exited} during start-up{cause} (log: {path})"


def _failed_task(settings: StackSettings) -> str | None:
    """Why the first task of the stack that stopped with an error stopped, if any did.

    A task that a user or the service scheduler (a rollout) stopped did not fail, whatever its
    exit code: a process stopped while it still starts may exit non-zero.
    """
    ecs = _client(settings, "ecs")
    arns = ecs.list_tasks(cluster=CLUSTER_NAME, desiredStatus="STOPPED")["taskArns"]
    if not arns:
        return None
    for task in ecs.describe_tasks(cluster=CLUSTER_NAME, tasks=arns[:100])["tasks"]:
        if task.get("stopCode") in INTENDED_STOPS:
            continue
        codes = [k.get("exitCode") for k in task.get("containers", [])]
        if task.get("stopCode") == "TaskFailedToStart" or any(x not in (0, None) for x in codes):
            group = task.get("group", "").removeprefix("service:")
            exit_codes = ", ".join(str(x) for x in codes if x is not None)
            tail = task_log_tail(ecs, _client(settings, "logs"), task)
            return (
                f"{group} task stopped: {task.get('stoppedReason', 'unknown reason')}"
                + (f" (exit code {exit_codes})" if exit_codes else "")
                + (f": {tail[-1].strip()}" if tail else "")
                + f"; read its logs with `dagster-ecs logs {group}`"
            )
    return None


_clients: dict[tuple[str, str, str], Any] = {}


def _client(settings: StackSettings, service: str) -> Any:
    """One client per emulator, service and key: the wait loops ask every few tenths of a
    second. The administrator's key exists once the emulator has seeded itself."""
    key = (settings.emulator_url, service, credentials.for_stack(settings).aws_access_key_id)
    if key not in _clients:
        _clients[key] = local_platform.emulator_client(settings, service)
    return _clients[key]


def _warm_clients(settings: StackSettings) -> None:
    """Loads the API models of every emulator client ``dev up`` makes while the emulator boots:
    boto3's default session then makes each later client in milliseconds."""
    for service in EMULATOR_SERVICES:
        local_platform.emulator_client(settings, service)


class _Starter:
    def __init__(self, settings: StackSettings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.started: list[str] = []
        self.password: str | None = None
        self.schema: dagster_schema.SchemaCreator | None = None
        self.deployed = False

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

    def crashed(self) -> str | None:
        for name in self.started:
            record = processes.read(self.settings.run_dir, name)
            if record is None or not record.is_running():
                return _crash_reason(self.settings, name)
        return None

    def wait_healthy(self, names: Sequence[str], timeout: float = START_TIMEOUT_S) -> None:
        began = time.monotonic()
        pending = list(names)
        reasons: dict[str, str] = {}
        with self.console.status("") as status:
            while pending:
                status.update(f"waiting for {', '.join(pending)}")
                if (crash := self.crashed()) is not None:
                    raise StackError(crash)
                for name in list(pending):
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
                    time.sleep(POLL_S)

    def prepare_database(self, binaries: postgres.PostgresBinaries) -> None:
        """Runs beside the emulator's boot: the cluster (first start only), the server, the
        database, and Dagster's schema, so the services do not each create it on start."""
        password = self.password or ""
        postgres.ensure_cluster(binaries, self.settings.postgres_dir, password)
        self.start(c.postgres_server(self.settings, binaries))
        began = time.monotonic()
        while (reason := health.postgres_ready(self.settings, password)) is not None:
            if (crash := self.crashed()) is not None:
                raise StackError(crash)
            if time.monotonic() - began > START_TIMEOUT_S:
                raise StackError(
                    f"postgres not healthy after {START_TIMEOUT_S:.0f} s ({reason}) "
                    f"(log: {log_path(self.settings, c.POSTGRES)})"
                )
            time.sleep(0.1)
        self.console.print(
            f"  [green]✓[/green] postgres ready on {self.settings.host}:"
            f"{self.settings.ports.postgres} ({time.monotonic() - began:.1f} s)"
        )
        schema, self.schema = self.schema, None
        if postgres.ensure_database(self.settings.host, self.settings.ports.postgres, password):
            try:
                (schema or dagster_schema.SchemaCreator(self.settings, password)).create()
            except dagster_schema.SchemaError as error:
                raise StackError(str(error)) from None
            self.console.print("  [green]✓[/green] Dagster schema created")
        elif schema is not None:
            schema.cancel()

    def deploy(
        self,
        platform: deploy.Platform,
        before_dependents: Callable[[], object] = lambda: None,
        *,
        wait: bool = True,
        timeout: float = START_TIMEOUT_S,
    ) -> None:
        def failed() -> str | None:
            return self.crashed() or _failed_task(self.settings)

        began = time.monotonic()
        self.deployed = True
        try:
            deploy.deploy(
                _client(self.settings, "ecs"),
                _client(self.settings, "servicediscovery"),
                platform,
                timeout=timeout,
                wait=wait,
                progress=lambda line: self.console.print(
                    f"  [green]✓[/green] {line} ({time.monotonic() - began:.1f} s)"
                    if line.endswith(": running")
                    else f"  [dim]…[/dim] {line}"
                ),
                failed=failed,
                before_dependents=before_dependents,
            )
        except (RuntimeError, TimeoutError) as error:
            raise StackError(str(error)) from None

    def wait_dagster(self, timeout: float = START_TIMEOUT_S) -> None:
        began = checked = time.monotonic()
        reason: str | None = "not checked"
        with self.console.status("waiting for the Dagster UI, code location and daemon"):
            while (reason := health.dagster(self.settings)) is not None:
                if time.monotonic() - checked >= FAILURE_CHECK_S:
                    checked = time.monotonic()
                    if (failure := self.crashed() or _failed_task(self.settings)) is not None:
                        raise StackError(failure)
                if time.monotonic() - began > timeout:
                    raise StackError(
                        f"Dagster not healthy after {timeout:.0f} s ({reason}); "
                        "read the logs with `dagster-ecs logs webserver` (or daemon, cl-main)"
                    )
                time.sleep(DAGSTER_POLL_S)
        self.console.print(
            f"  [green]✓[/green] Dagster healthy: location {MAIN_LOCATION!r} loaded, daemons "
            f"heartbeating ({time.monotonic() - began:.1f} s)"
        )

    def rollback(self) -> None:
        (self.settings.run_dir / SEED_FILE).unlink(missing_ok=True)
        if self.schema is not None:
            self.schema.cancel()
        if self.deployed:
            drain_services(self.settings, Console(quiet=True))
        for name in reversed(self.started):
            processes.stop(self.settings.run_dir, name, stop_signal=_stop_signal(name))
        sweep_strays(self.settings)
        stackfile.remove(self.settings)


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
            f"/{local_platform.STACK_NAME}/{name}"
            for name in ("webserver", "daemon", f"code-locations/{MAIN_LOCATION}")
        ),
        admin_user=credentials.ADMIN_USER,
        credentials_file=str(credentials.credentials_file(settings)),
    )


def up(settings: StackSettings, console: Console) -> StackSettings:
    """Starts every component and returns once all are healthy; on failure stops what it started.

    ``settings`` are the stack as its state folder records it: when that stack runs, nothing
    starts. Otherwise a new stack starts on the environment's ports. Returns the started stack.
    """
    running = running_components(settings)
    if running:
        whole = len(running) == len(c.PROCESSES) and stackfile.is_own(settings)
        if whole and health.dagster(settings) is None:
            console.print(f"already running: Dagster UI at {settings.webserver_url}")
            return settings
        raise StackError(
            f"the stack in {settings.state_dir} is partly running ({', '.join(running)}); "
            "run `make stop` first (it stops only this stack)"
        )
    settings = StackSettings.from_env(settings.root, fresh=True).model_copy(
        update={"state_dir": settings.state_dir}
    )
    check_ports_free(settings)
    settings = stackfile.new_stack(settings)
    binaries = postgres.find_binaries()
    starter = _Starter(settings, console)
    try:
        console.print(f"starting the local stack in {settings.state_dir}")
        password = postgres.ensure_password(settings.postgres_dir)
        starter.password = password
        seed_file = settings.run_dir / SEED_FILE
        seed_spec(settings, password).write(seed_file)
        # While the emulator boots (and seeds itself), the ECS runtime starts and waits for it,
        # PostgreSQL is initialised and, for a new cluster, Dagster's storage code loads.
        starter.start(c.emulator(settings, seed_file))
        local_platform.build_platform_image(settings)
        starter.start(
            c.ecs_runtime(
                settings,
                local_platform.ecs_state_dir(settings),
                local_platform.images_file(settings),
            )
        )
        if not (postgres.data_dir(settings.postgres_dir) / "PG_VERSION").exists():
            starter.schema = dagster_schema.SchemaCreator(settings, password)
        with ThreadPoolExecutor(max_workers=1) as pool:
            database = pool.submit(starter.prepare_database, binaries)
            _warm_clients(settings)
            starter.wait_healthy([c.EMULATOR])
            console.print(
                "  [green]✓[/green] emulator seeded (bucket, secret, cluster, namespace, logs)"
            )
            platform = local_platform.local_platform(
                settings, local_platform.db_secret_arn(settings)
            )
            starter.wait_healthy([c.ECS_RUNTIME])
            # Code servers need no database: they start while the schema is being created.
            starter.deploy(platform, before_dependents=database.result)
        starter.wait_dagster()
    except BaseException:
        starter.rollback()
        raise
    stackfile.write(settings, pids=_pids(settings))
    console.print(f"[bold]Dagster UI: {settings.webserver_url}[/bold]")
    return settings


def _pids(settings: StackSettings) -> dict[str, int]:
    return {
        name: record.pid
        for name in c.PROCESSES
        if (record := processes.read(settings.run_dir, name)) is not None
    }


def redeploy(
    settings: StackSettings,
    console: Console,
    image: str | None,
    *,
    wait: bool = True,
    timeout: float = START_TIMEOUT_S,
) -> None:
    """``dagster-ecs deploy`` against the local stack: new revisions where anything changed.

    Without ``image`` the services keep the image they run.
    """
    stackfile.require_own(settings)
    if c.ECS_RUNTIME not in running_components(settings):
        raise StackError(
            f"the ECS runtime of the stack in {settings.state_dir} is not running; "
            "restart the stack with `make stop` and `make dev`"
        )
    starter = _Starter(settings, console)
    starter.password = _password(settings)
    ecs = local_platform.emulator_client(settings, "ecs")
    platform = local_platform.local_platform(
        settings,
        local_platform.db_secret_arn(settings),
        image=image or deploy.deployed_image(ecs, CLUSTER_NAME) or local_platform.PLATFORM_IMAGE,
    )
    starter.deploy(platform, wait=wait, timeout=timeout)
    if wait:
        starter.wait_dagster(timeout)


def drain_services(settings: StackSettings, console: Console) -> int:
    """Deletes every service and stops every task through the ECS API; waits for the processes.

    Returns how many tasks were stopped. Does nothing unless the emulator answering on the
    stack's endpoint is this stack's own.
    """
    if not stackfile.is_own(settings):
        return 0
    ecs = local_platform.emulator_client(settings, "ecs")
    try:
        service_arns = ecs.list_services(cluster=CLUSTER_NAME)["serviceArns"]
    except ecs.exceptions.ClusterNotFoundException:
        return 0
    task_arns = ecs.list_tasks(cluster=CLUSTER_NAME)["taskArns"]
    for arn in service_arns:
        ecs.update_service(cluster=CLUSTER_NAME, service=arn, desiredCount=0)
        ecs.delete_service(cluster=CLUSTER_NAME, service=arn, force=True)
    for arn in task_arns:
        # A service's task may be gone between ListTasks and StopTask (its service deleted).
        with contextlib.suppress(ecs.exceptions.InvalidParameterException):
            ecs.stop_task(cluster=CLUSTER_NAME, task=arn, reason="make stop")
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    runtime_alive = c.ECS_RUNTIME in running_components(settings)
    while task_arns and runtime_alive and time.monotonic() < deadline:
        tasks = ecs.describe_tasks(cluster=CLUSTER_NAME, tasks=task_arns)["tasks"]
        if all(task["lastStatus"] == "STOPPED" for task in tasks):
            break
        time.sleep(0.25)
    if task_arns:
        console.print(f"  stopped {len(task_arns)} ECS task(s) of {len(service_arns)} service(s)")
    return len(task_arns)


def _tagged_processes(settings: StackSettings) -> list[psutil.Process]:
    """Processes carrying this stack's tag, except this CLI and its callers."""
    marker = str(settings.state_dir)
    me = psutil.Process()
    exempt = {me.pid, *(parent.pid for parent in me.parents())}
    found = []
    for proc in psutil.process_iter():
        if proc.pid in exempt:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if proc.environ().get(STACK_TAG) == marker:
                found.append(proc)
    return found


def sweep_strays(settings: StackSettings) -> int:
    """Kills whatever process of this stack outlived an orderly stop (a last resort)."""
    strays = _tagged_processes(settings)
    for proc in strays:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(strays, timeout=5)
    return len(strays)


def stop(settings: StackSettings, console: Console) -> list[str]:
    """Stops this stack's services and processes; another stack's emulator is never touched."""
    if (foreign := stackfile.foreign_emulator(settings)) is not None:
        console.print(f"  {foreign.removesuffix('; refusing to act on it')}: not draining it")
    drain_services(settings, console)
    stopped = []
    for name in reversed(c.PROCESSES):
        if processes.stop(settings.run_dir, name, stop_signal=_stop_signal(name)):
            stopped.append(name)
            console.print(f"  stopped {name}")
    if strays := sweep_strays(settings):
        console.print(f"  killed {strays} stray process(es)")
    stackfile.remove(settings)
    if not stopped:
        console.print(f"nothing was running in {settings.state_dir}")
    return stopped


def status(settings: StackSettings) -> list[ComponentStatus]:
    password = _password(settings)
    result = []
    for name in c.PROCESSES:
        record = processes.read(settings.run_dir, name)
        path = str(log_path(settings, name))
        port = _port_of(settings, name)
        if record is None:
            result.append(ComponentStatus(name, "-", port, "stopped", "", path))
        elif not record.is_running():
            result.append(ComponentStatus(name, str(record.pid), port, "crashed", "ended", path))
        else:
            reason = health.check(name, settings, password)
            state = "healthy" if reason is None else "unhealthy"
            result.append(ComponentStatus(name, str(record.pid), port, state, reason or "", path))
    if stackfile.is_own(settings):
        result += _service_statuses(settings)
    return result


def _service_statuses(settings: StackSettings) -> list[ComponentStatus]:
    ecs = local_platform.emulator_client(settings, "ecs")
    try:
        arns = ecs.list_services(cluster=CLUSTER_NAME)["serviceArns"]
    except ecs.exceptions.ClusterNotFoundException:
        return []
    if not arns:
        return []
    dagster = health.dagster(settings)
    rows = []
    for service in ecs.describe_services(cluster=CLUSTER_NAME, services=arns)["services"]:
        name = service["serviceName"]
        tasks = f"{service['runningCount']}/{service['desiredCount']} tasks"
        port = _port_of(settings, "webserver" if name == "webserver" else "code location")
        stable = deploy.is_stable(service)
        healthy = stable and (dagster is None or name not in ("webserver", "daemon"))
        if service["desiredCount"] == 0:
            state, detail = "scaled to zero", f"{tasks}; desired count 0"
        elif healthy:
            state, detail = "healthy", tasks
        else:
            state, detail = "unhealthy", f"{tasks}; {dagster or 'rolling out'}"
        rows.append(
            ComponentStatus(
                name=f"service {name}",
                pid="-",
                port=None if name == "daemon" else port,
                state=state,
                detail=detail,
                log=f"dagster-ecs logs {name}",
            )
        )
    return rows


def log_sources(settings: StackSettings, *, emulator_access: bool = False) -> list[LogSource]:
    """The processes' log files, and each running ECS service's CloudWatch Logs streams; with
    ``emulator_access``, the emulator's access log too (one line per API call)."""
    sources: list[LogSource] = [FileSource(name, log_path(settings, name)) for name in c.PROCESSES]
    if emulator_access:
        sources.append(FileSource(c.EMULATOR, c.access_log(settings)))
    if not stackfile.is_own(settings):
        return sources
    ecs = local_platform.emulator_client(settings, "ecs")
    logs = local_platform.emulator_client(settings, "logs")
    try:
        arns = ecs.list_services(cluster=CLUSTER_NAME)["serviceArns"]
    except ecs.exceptions.ClusterNotFoundException:
        return sources
    for arn in sorted(arns):
        service = arn.rsplit("/", 1)[-1]
        for group, prefix in log_targets(ecs, CLUSTER_NAME, service):
            sources.append(CloudWatchSource(service, logs, group, prefix))
    return sources


def reset(settings: StackSettings, console: Console) -> None:
    """Stops the stack, wipes PostgreSQL and Dagster state (the emulator keeps none on disk)."""
    stop(settings, console)
    for folder in (
        settings.postgres_dir,
        settings.dagster_home,
        settings.run_dir,
        local_platform.ecs_state_dir(settings),
    ):
        shutil.rmtree(folder, ignore_errors=True)
    console.print("  wiped PostgreSQL data, Dagster home and emulator state")
