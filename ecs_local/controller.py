"""The reconciler: ECS agent + service scheduler, level-triggered against the emulator's state.

Each pass compares the emulator's ECS state (a hook snapshot) with the local tasks and acts:
start tasks the emulator wants running, stop those it wants stopped, keep every ACTIVE
service at its desiredCount with rolling deployments, then reports what really runs back to
the emulator. Local tasks are persisted under ``<state-dir>/tasks/<id>/`` so a new runtime
process adopts the processes that still run instead of starting duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from ecs_local import awslogs, discovery, lifecycle
from ecs_local.environment import (
    MAX_ENVIRONMENT_FILES,
    SecretError,
    argv_for,
    build_env,
    container_override,
    environment_file_location,
    parse_environment_file,
    resolve_secrets,
)
from ecs_local.health import HealthCheck
from ecs_local.hook_client import HookClient, HookError
from ecs_local.images import ImageStore, pull_from_ecr
from ecs_local.runtime import ContainerHandle, ContainerRuntime, ContainerSpec
from ecs_local.scheduler import CircuitBreaker, TaskView, plan_service
from ecs_local.stats import StatsReader
from ecs_local.throttle import THROTTLED_EVENT, ServiceThrottle
from ecs_local.unsupported import unsupported_features

log = logging.getLogger("ecs_local")

DEFAULT_STOP_TIMEOUT = 30.0
STABLE_AFTER = 10.0
SETTLE_WITHOUT_HEALTH_CHECK = 5.0
"""Seconds a task without a health check runs before it counts toward completing its
deployment (ECS documents no figure; its own deployments take minutes to complete)."""


def host_ports(task_definition: dict[str, Any]) -> set[int]:
    """The host ports a task holds while it is not STOPPED.

    Tasks share the host's network here (no ENI per task), so placement works as ECS's does on
    one EC2 instance in host mode: a task is not started while its host ports are held, and a
    rolling update of a port-bound service needs minimumHealthyPercent below 100.
    """
    ports = set()
    for container in task_definition.get("containerDefinitions", []):
        for mapping in container.get("portMappings", []):
            port = mapping.get("hostPort") or mapping.get("containerPort")
            if port:
                ports.add(int(port))
    return ports


def _definition(task_definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in task_definition["containerDefinitions"] if d["name"] == name)


def secret_names(task_definition: dict[str, Any], name: str) -> set[str]:
    """The variables of a container whose values come from ``secrets``: never persisted."""
    return {s["name"] for s in _definition(task_definition, name).get("secrets") or []}


def execution_role(snapshot: dict[str, Any], task_definition: dict[str, Any]) -> str | None:
    overrides = snapshot.get("overrides") or {}
    return overrides.get("executionRoleArn") or task_definition.get("executionRoleArn")


def scheduler_events(service: str, started: list[str], stopped: list[str]) -> list[str]:
    """ECS's service event messages for the tasks one scheduling pass stopped and started."""
    events = []
    if stopped:
        tasks = " ".join(f"(task {task_id})" for task_id in stopped)
        events.append(f"(service {service}) has stopped {len(stopped)} running tasks: {tasks}.")
    if started:
        tasks = " ".join(f"(task {task_id})" for task_id in started)
        events.append(f"(service {service}) has started {len(started)} tasks: {tasks}.")
    return events


def _scheduler_status(task: TaskState | None) -> str:
    if task is None or (task.status == "RUNNING" and not task.reported_running):
        return "PENDING"
    return task.status


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


@dataclass
class ContainerState:
    name: str
    essential: bool
    stop_timeout: float
    handle: ContainerHandle | None = None
    status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    token: str = ""
    log_offset: int = 0
    spec: ContainerSpec | None = None
    health: HealthCheck | None = None
    health_status: str = "UNKNOWN"
    started_at: float | None = None


def _log_options(log_config: dict[str, Any], container: str, task_id: str) -> Any:
    """The container's log options as Fargate reports them: awslogs adds the stream it writes
    (``prefix/container/task id``)."""
    options: dict[str, Any] = log_config.get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    if log_config.get("logDriver") != "awslogs" or not prefix:
        return log_config.get("options")
    return {**options, "awslogs-stream": f"{prefix}/{container}/{task_id}"}


def ephemeral_storage(task_id: str) -> Path:
    """The task's own temporary folder (its ``TMPDIR``), deleted when the task stops, as
    Fargate deletes a task's ephemeral storage. Directly under the host's temporary folder:
    processes put Unix sockets there (Dagster's code servers do), whose paths may not exceed
    107 bytes."""
    path = Path(tempfile.gettempdir()) / f"ecs-task-{task_id}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@dataclass
class TaskState:
    snapshot: dict[str, Any]
    task_definition: dict[str, Any]
    directory: Path
    token: str
    containers: dict[str, ContainerState] = field(default_factory=dict)
    status: str = "PENDING"
    created: float = field(default_factory=time.time)
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    kill_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    failed: bool = False
    registrations: list[str] = field(default_factory=list)
    failure_noted: bool = False
    role_arn: str | None = None
    reported: str = ""
    reported_status: str = lifecycle.PROVISIONING

    @property
    def arn(self) -> str:
        return str(self.snapshot["taskArn"])

    @property
    def id(self) -> str:
        return str(self.snapshot["id"])

    @property
    def health(self) -> str:
        checked = [c for c in self.containers.values() if c.essential and c.health is not None]
        if any(c.health_status == "UNHEALTHY" for c in checked):
            return "UNHEALTHY"
        if checked and all(c.health_status == "HEALTHY" for c in checked):
            return "HEALTHY"
        return "UNKNOWN"

    @property
    def reported_running(self) -> bool:
        """RUNNING as the API shows it: the scheduler counts a task once clients see it so."""
        return self.status == "RUNNING" and self.reported_status == "RUNNING"

    @property
    def healthy(self) -> bool:
        has_checks = any(c.health is not None for c in self.containers.values() if c.essential)
        return self.reported_running and (self.health == "HEALTHY" if has_checks else True)

    @property
    def in_service(self) -> bool:
        return str(self.snapshot.get("group") or "").startswith("service:")

    def settled(self, now: float) -> bool:
        """Healthy by its health check, or without one RUNNING for a while: a container that
        exits a moment after it started must not complete a deployment."""
        if not self.healthy:
            return False
        if any(c.health is not None for c in self.containers.values() if c.essential):
            return True
        started = self.started_at or now
        return now - started >= SETTLE_WITHOUT_HEALTH_CHECK

    def _spec_json(self, spec: ContainerSpec) -> dict[str, Any]:
        hidden = secret_names(self.task_definition, spec.name)
        env = {key: value for key, value in spec.env.items() if key not in hidden}
        return {"argv": spec.argv, "env": env, "cwd": spec.cwd}

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "taskDefinition": self.task_definition,
            "token": self.token,
            "status": self.status,
            "created": self.created,
            "times": [
                self.pull_started_at,
                self.pull_stopped_at,
                self.started_at,
                self.stopping_at,
                self.kill_at,
            ],
            "stoppedReason": self.stopped_reason,
            "stopCode": self.stop_code,
            "failed": self.failed,
            "registrations": self.registrations,
            "roleArn": self.role_arn,
            "containers": {
                name: {
                    "essential": c.essential,
                    "stopTimeout": c.stop_timeout,
                    "handle": c.handle.to_json() if c.handle else None,
                    "status": c.status,
                    "exitCode": c.exit_code,
                    "token": c.token,
                    "logOffset": c.log_offset,
                    "healthStatus": c.health_status,
                    "startedAt": c.started_at,
                    "spec": None if c.spec is None else self._spec_json(c.spec),
                }
                for name, c in self.containers.items()
            },
        }


class Controller:
    def __init__(
        self,
        endpoint: str,
        state_dir: Path,
        images: ImageStore,
        runtime: ContainerRuntime,
        metadata_port: int,
        region: str,
    ) -> None:
        self.endpoint = endpoint
        self.state_dir = state_dir
        self.images = images
        self.runtime = runtime
        self.metadata_port = metadata_port
        self.region = region
        self.hook = HookClient(endpoint)
        self.session = boto3.session.Session()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._role_credentials: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, TaskState] = {}
        self.done: set[str] = set()
        self.tokens: dict[str, tuple[str, str | None]] = {}
        self.throttle = ServiceThrottle()
        self.stats = StatsReader()
        self.pending_events: dict[str, list[str]] = {}
        # Circuit breaker: failed tasks per deployment id (seeded once from the emulator, which
        # keeps the count across runtime restarts) and the deployments this runtime failed.
        self.failures: dict[str, int] = {}
        self.failures_seeded: set[str] = set()
        self.failed_deployments: set[str] = set()
        self.announced_unsupported: set[tuple[str, str]] = set()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._snapshot: dict[str, Any] | None = None
        self._snapshot_requested = 0.0
        self._lock = threading.RLock()
        self._log_flush_at = 0.0
        (state_dir / "tasks").mkdir(parents=True, exist_ok=True)

    # --- AWS clients -------------------------------------------------------------------------
    def client(self, service: str, region: str | None = None, role_arn: str | None = None) -> Any:
        region = region or self.region
        key = (service, region, role_arn or "")
        if key not in self._clients:
            kwargs: dict[str, Any] = {"region_name": region, "endpoint_url": self.endpoint}
            if role_arn:
                creds = self.role_credentials(role_arn, "ecs-local-execution")
                kwargs.update(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["Token"],
                )
            self._clients[key] = self.session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[key]

    def role_credentials(self, role_arn: str, session_name: str) -> dict[str, Any]:
        cached = self._role_credentials.get(role_arn)
        if cached and cached["_expires"] - time.time() > 300:
            return cached
        result = self.hook.assume_role(role_arn, session_name, self.region)
        expires = dt.datetime.strptime(result["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        result["_expires"] = expires.replace(tzinfo=dt.UTC).timestamp()
        self._role_credentials[role_arn] = result
        return result

    # --- metadata endpoints ------------------------------------------------------------------
    def _container_metadata(self, task: TaskState, name: str) -> dict[str, Any]:
        td = task.task_definition
        definition = next(d for d in td["containerDefinitions"] if d["name"] == name)
        container = task.containers[name]
        snap = task.snapshot
        log_config = definition.get("logConfiguration") or {}
        return {
            "DockerId": container.handle.runtime_id if container.handle else "",
            "Name": name,
            "DockerName": f"ecs-{td['family']}-{td['revision']}-{name}",
            "Image": definition.get("image"),
            "ImageID": "",
            "Labels": {
                "com.amazonaws.ecs.cluster": snap["clusterArn"],
                "com.amazonaws.ecs.container-name": name,
                "com.amazonaws.ecs.task-arn": task.arn,
                "com.amazonaws.ecs.task-definition-family": td["family"],
                "com.amazonaws.ecs.task-definition-version": str(td["revision"]),
            },
            "DesiredStatus": "RUNNING" if task.status in ("PENDING", "RUNNING") else "STOPPED",
            "KnownStatus": container.status,
            "Limits": {"CPU": definition.get("cpu", 0), "Memory": definition.get("memory", 0)},
            "CreatedAt": _iso(task.created),
            "StartedAt": _iso(container.started_at),
            "Type": "NORMAL",
            "LaunchType": snap.get("launchType") or "FARGATE",
            "ContainerARN": next(
                (c["containerArn"] for c in snap["containers"] if c["name"] == name), ""
            ),
            "LogDriver": log_config.get("logDriver"),
            "LogOptions": _log_options(log_config, name, task.id),
            "Networks": [
                {
                    "NetworkMode": td.get("networkMode") or "awsvpc",
                    "IPv4Addresses": [snap["address"]],
                    "AttachmentIndex": 0,
                    "MACAddress": snap["eni"].get("macAddress", ""),
                    "IPv4SubnetCIDRBlock": "127.0.0.0/8",
                    "PrivateDNSName": snap["eni"].get("privateDnsName", ""),
                    "SubnetGatewayIpv4Address": "127.0.0.1/8",
                }
            ],
        }

    def _container_stats(self, task: TaskState, name: str) -> dict[str, Any]:
        container = task.containers[name]
        if container.handle is None or container.status == "STOPPED":
            return {}
        definition = _definition(task.task_definition, name)
        limit = int(definition.get("memory") or task.task_definition.get("memory") or 512)
        td = task.task_definition
        return self.stats.read(
            container.handle.runtime_id,
            container.handle.pid,
            f"ecs-{td['family']}-{td['revision']}-{name}",
            limit,
        )

    def container_stats(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[1] is None or found[0] not in self.tasks:
                return None
            task, name = self.tasks[found[0]], found[1]
        return self._container_stats(task, name)

    def task_stats(self, token: str) -> dict[str, Any] | None:
        """Every container's stats, keyed by its Docker id (runtime id), as Fargate answers."""
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[0] not in self.tasks:
                return None
            task = self.tasks[found[0]]
        return {
            container.handle.runtime_id: self._container_stats(task, name)
            for name, container in task.containers.items()
            if container.handle is not None
        }

    def container_metadata(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[1] is None or found[0] not in self.tasks:
                return None
            return self._container_metadata(self.tasks[found[0]], found[1])

    def task_metadata(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[0] not in self.tasks:
                return None
            task = self.tasks[found[0]]
            td = task.task_definition
            group = task.snapshot.get("group") or ""
            service = (
                {"ServiceName": group[len("service:") :]} if group.startswith("service:") else {}
            )
            return {
                **service,
                "Cluster": task.snapshot["clusterArn"],
                "TaskARN": task.arn,
                "Family": td["family"],
                "Revision": str(td["revision"]),
                "DesiredStatus": "RUNNING" if task.status in ("PENDING", "RUNNING") else "STOPPED",
                "KnownStatus": task.status,
                "Limits": {
                    "CPU": int(td.get("cpu") or 256) / 1024,
                    "Memory": int(td.get("memory") or 512),
                },
                "PullStartedAt": _iso(task.pull_started_at),
                "PullStoppedAt": _iso(task.pull_stopped_at),
                "AvailabilityZone": f"{task.snapshot['region']}a",
                "LaunchType": task.snapshot.get("launchType") or "FARGATE",
                "Containers": [self._container_metadata(task, name) for name in task.containers],
                "ClockDrift": {
                    "ClockErrorBound": 0.5,
                    "ReferenceTimestamp": _iso(time.time()),
                    "ClockSynchronizationStatus": "SYNCHRONIZED",
                },
                "EphemeralStorageMetrics": {"Utilized": 0, "Reserved": 20496},
            }

    def credentials(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            task = self.tasks.get(found[0]) if found and found[1] is None else None
            role_arn = task.role_arn if task else None
            task_id = task.id if task else ""
        if not role_arn:
            return None
        creds = self.role_credentials(role_arn, f"ecs-task-{task_id}")
        return {k: v for k, v in creds.items() if not k.startswith("_")}

    # --- persistence -------------------------------------------------------------------------
    def _save(self, task: TaskState) -> None:
        task.directory.mkdir(parents=True, exist_ok=True)
        path = task.directory / "task.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(task.to_json(), handle, default=str)
        tmp.replace(path)

    def adopt(self) -> int:
        """Loads the task records of earlier runtime processes; their processes keep running."""
        count = 0
        for path in sorted((self.state_dir / "tasks").glob("*/task.json")):
            data = json.loads(path.read_text())
            if data["status"] == "STOPPED":
                continue
            task = TaskState(data["snapshot"], data["taskDefinition"], path.parent, data["token"])
            task.status, task.created = data["status"], data["created"]
            task.reported_status = "RUNNING" if task.status == "RUNNING" else task.reported_status
            (
                task.pull_started_at,
                task.pull_stopped_at,
                task.started_at,
                task.stopping_at,
                task.kill_at,
            ) = data["times"]
            task.stopped_reason, task.stop_code, task.failed = (
                data["stoppedReason"],
                data["stopCode"],
                data["failed"],
            )
            task.registrations, task.role_arn = data["registrations"], data["roleArn"]
            for name, c in data["containers"].items():
                container = ContainerState(name, c["essential"], c["stopTimeout"])
                container.handle = ContainerHandle.from_json(c["handle"]) if c["handle"] else None
                container.status, container.exit_code, container.token = (
                    c["status"],
                    c["exitCode"],
                    c["token"],
                )
                container.log_offset, container.health_status = c["logOffset"], c["healthStatus"]
                container.started_at = c["startedAt"]
                definition = _definition(task.task_definition, name)
                if c["spec"]:
                    container.spec = ContainerSpec(
                        name, c["spec"]["argv"], c["spec"]["env"], c["spec"]["cwd"], path.parent
                    )
                    self._recover_secrets(task, container, definition)
                if definition.get("healthCheck") and container.started_at:
                    container.health = HealthCheck.from_definition(
                        definition["healthCheck"], container.started_at
                    )
                    container.health.status = container.health_status
                task.containers[name] = container
                self.tokens[container.token] = (task.arn, name)
            self.tokens[task.token] = (task.arn, None)
            self.tasks[task.arn] = task
            self._save(task)
            count += 1
        return count

    def _recover_secrets(
        self, task: TaskState, container: ContainerState, definition: dict[str, Any]
    ) -> None:
        """Puts the secret values back into an adopted container's spec (health checks run in
        its environment). The running process has exactly the environment it was started with;
        only if that cannot be read are the secrets resolved again, as at task start, which
        differs from the container's values if a secret was rotated in between."""
        names = secret_names(task.task_definition, container.name)
        handle, spec = container.handle, container.spec
        if not names or spec is None or handle is None or container.status == "STOPPED":
            return
        if self.runtime.exit_code(handle) is not None:
            return
        live = self.runtime.environ(handle) or {}
        if names <= live.keys():
            spec.env.update({name: live[name] for name in names})
            return
        where = f"task {task.id} container {container.name}"
        try:
            role = execution_role(task.snapshot, task.task_definition)
            spec.env.update(self._secret_values(task, definition, role))
        except SecretError as error:
            log.warning(
                "%s: environment unreadable and %s; health checks run without %s",
                where,
                error,
                ", ".join(sorted(names)),
            )
            return
        log.warning(
            "%s: environment unreadable; health checks use the secrets' current values", where
        )

    # --- task lifecycle (the agent) ----------------------------------------------------------
    def _fail(self, task: TaskState, reason: str, code: str = "TaskFailedToStart") -> None:
        task.status, task.stopped_reason, task.stop_code, task.failed = (
            "STOPPED",
            reason,
            code,
            True,
        )
        task.stopped_at = time.time()
        for container in task.containers.values():
            if container.status != "STOPPED":
                container.status, container.reason = "STOPPED", reason
        shutil.rmtree(ephemeral_storage(task.id), ignore_errors=True)
        self._note_failure(task)

    def start_task(self, snap: dict[str, Any], td: dict[str, Any]) -> TaskState:
        task = TaskState(snap, td, self.state_dir / "tasks" / snap["id"], secrets.token_hex(16))
        task.pull_started_at = time.time()
        overrides = snap.get("overrides") or {}
        task.role_arn = overrides.get("taskRoleArn") or td.get("taskRoleArn")
        with self._lock:
            self.tasks[task.arn] = task
            self.tokens[task.token] = (task.arn, None)
        for definition in td["containerDefinitions"]:
            container = ContainerState(
                definition["name"],
                definition.get("essential", True),
                float(definition.get("stopTimeout") or DEFAULT_STOP_TIMEOUT),
                token=secrets.token_hex(16),
            )
            task.containers[container.name] = container
            self.tokens[container.token] = (task.arn, container.name)
        try:
            specs = self._specs(task, td, overrides, execution_role(snap, td))
        except (SecretError, LookupError, ValueError) as error:
            self._fail(task, str(error))
            return task
        except Exception as error:
            self._fail(task, f"ResourceInitializationError: {error}")
            return task
        task.pull_stopped_at = time.time()
        for name, spec in specs.items():
            container = task.containers[name]
            container.spec = spec
            container.handle = self.runtime.start(spec)
            container.status, container.started_at = "RUNNING", time.time()
            definition = next(d for d in td["containerDefinitions"] if d["name"] == name)
            if definition.get("healthCheck"):
                container.health = HealthCheck.from_definition(
                    definition["healthCheck"], container.started_at
                )
        task.status, task.started_at = "RUNNING", time.time()
        self._save(task)
        log.info("started task %s (%s:%s)", task.id, td["family"], td["revision"])
        self._announce_unsupported(task)
        return task

    def _announce_unsupported(self, task: TaskState) -> None:
        """Names, once per task definition and service, what the runtime will not honour."""
        services = {
            (s["account"], s["region"], s["cluster"], s["serviceName"]): s
            for s in (self._snapshot or {}).get("services", [])
        }
        service = self._service_of(task, services) if task.in_service else None
        owner = service["serviceName"] if service else "standalone"
        key = (owner, str(task.task_definition.get("taskDefinitionArn", task.arn)))
        if key in self.announced_unsupported:
            return
        self.announced_unsupported.add(key)
        for notice in unsupported_features(task.task_definition, service):
            log.warning("task %s: %s", task.id, notice)
            if service is not None:
                skey = "/".join((service["account"], service["region"], service["cluster"], owner))
                message = f"(service {owner}) ecs_local: {notice}."
                self.pending_events.setdefault(skey, []).append(message)

    def _specs(
        self,
        task: TaskState,
        td: dict[str, Any],
        overrides: dict[str, Any],
        role: str | None,
    ) -> dict[str, ContainerSpec]:
        specs: dict[str, ContainerSpec] = {}
        region = task.snapshot["region"]
        for definition in td["containerDefinitions"]:
            image = self.images.resolve(
                definition["image"],
                pull=lambda ref: pull_from_ecr(self.client("ecr", region, role), ref),
            )
            if image is None:
                raise LookupError(self.images.pull_error(definition["image"]))
            target = awslogs.target_for(definition, task.id, region)
            if target is not None:
                awslogs.prepare(self.client("logs", target.region, role), target)
            secret_values = self._secret_values(task, definition, role)
            container = task.containers[definition["name"]]
            endpoints = {
                "ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{self.metadata_port}/v4/{container.token}",
                "ECS_CONTAINER_METADATA_URI": f"http://127.0.0.1:{self.metadata_port}/v4/{container.token}",
            }
            if task.role_arn:
                endpoints["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = (
                    f"http://127.0.0.1:{self.metadata_port}/creds/{task.token}"
                )
            override = container_override(overrides, definition["name"])
            env = build_env(
                definition,
                override,
                image,
                secret_values,
                endpoints,
                region,
                self.endpoint,
                self._environment_file_values(task, definition, override, role),
            )
            # A Fargate task's ephemeral storage is its own: so is its temporary folder here.
            env["TMPDIR"] = str(ephemeral_storage(task.id))
            hostname = (task.snapshot.get("eni") or {}).get("privateDnsName")
            if hostname:
                env.setdefault("HOSTNAME", hostname)
            cwd = (
                definition.get("workingDirectory") or image.working_directory or str(task.directory)
            )
            specs[definition["name"]] = ContainerSpec(
                definition["name"], argv_for(definition, override, image), env, cwd, task.directory
            )
        return specs

    def _environment_file_values(
        self,
        task: TaskState,
        definition: dict[str, Any],
        override: dict[str, Any],
        role: str | None,
    ) -> dict[str, str]:
        """The container's environmentFiles (its override's after its definition's), read from
        S3 with the execution role as Fargate does; later files win, as in Docker."""
        files = [*(definition.get("environmentFiles") or [])]
        files += override.get("environmentFiles") or []
        if len(files) > MAX_ENVIRONMENT_FILES:
            raise ValueError(f"{len(files)} environment files: ECS allows {MAX_ENVIRONMENT_FILES}")
        values: dict[str, str] = {}
        s3 = self.client("s3", task.snapshot["region"], role) if files else None
        for entry in files:
            bucket, key = environment_file_location(str(entry.get("value", "")))
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[union-attr]
            except Exception as error:
                raise ValueError(
                    f"ResourceInitializationError: failed to download env files: {entry['value']}: "
                    f"{error}"
                ) from None
            values.update(parse_environment_file(body.decode("utf-8")))
        return values

    def _secret_values(
        self, task: TaskState, definition: dict[str, Any], role: str | None
    ) -> dict[str, str]:
        region = task.snapshot["region"]
        return resolve_secrets(
            definition.get("secrets") or [], lambda service: self.client(service, region, role)
        )

    def begin_stop(self, task: TaskState, reason: str, code: str) -> None:
        if task.status in ("STOPPING", "STOPPED"):
            return
        now = time.time()
        task.stopped_reason, task.stop_code = task.stopped_reason or reason, task.stop_code or code
        task.status, task.stopping_at = "STOPPING", now
        timeout = max(
            (c.stop_timeout for c in task.containers.values()), default=DEFAULT_STOP_TIMEOUT
        )
        task.kill_at = now + timeout
        self._deregister(task)
        for container in task.containers.values():
            if container.handle and container.status == "RUNNING":
                self.runtime.signal(container.handle, signal.SIGTERM)
        self._save(task)

    def _watch(self, task: TaskState, now: float) -> None:
        for container in task.containers.values():
            if container.handle is None or container.status == "STOPPED":
                continue
            code = self.runtime.exit_code(container.handle)
            if code is not None:
                container.status, container.exit_code = "STOPPED", code
                if container.health:
                    container.health.close()
                self._ship_logs(task, container, final=True)
                if container.essential and task.status == "RUNNING":
                    self.begin_stop(
                        task, "Essential container in task exited", "EssentialContainerExited"
                    )
                    task.failed = True
                    self._note_failure(task)
                continue
            if container.health and task.status == "RUNNING":
                spec = container.spec
                if spec is None:
                    continue
                status = container.health.tick(now, partial(self.runtime.exec, spec))
                if status != container.health_status:
                    container.health_status = status
                    self._save(task)
                # ECS replaces an unhealthy service task; a standalone one runs on regardless.
                if status == "UNHEALTHY" and container.essential and task.in_service:
                    self.begin_stop(
                        task, "Task failed container health checks", "ServiceSchedulerInitiated"
                    )
                    task.failed = True
                    self._note_failure(task)
        if task.status == "STOPPING":
            if all(c.status == "STOPPED" or c.handle is None for c in task.containers.values()):
                task.status, task.stopped_at = "STOPPED", now
                for container in task.containers.values():
                    container.status = "STOPPED"
                shutil.rmtree(ephemeral_storage(task.id), ignore_errors=True)
                self._save(task)
            elif task.kill_at is not None and now >= task.kill_at:
                for container in task.containers.values():
                    if container.handle and container.status != "STOPPED":
                        self.runtime.signal(container.handle, signal.SIGKILL)
                task.kill_at = now + 5

    # --- logs and discovery ------------------------------------------------------------------
    def _ship_logs(self, task: TaskState, container: ContainerState, final: bool) -> None:
        if container.handle is None:
            return
        definition = next(
            d for d in task.task_definition["containerDefinitions"] if d["name"] == container.name
        )
        target = awslogs.target_for(definition, task.id, task.snapshot["region"])
        if target is None:
            return
        try:
            offset = awslogs.ship(
                self.client("logs", target.region),
                target,
                container.handle.log_path,
                container.log_offset,
                final,
            )
        except Exception as error:
            log.warning("shipping logs of %s/%s failed: %s", task.id, container.name, error)
            return
        if offset != container.log_offset:
            container.log_offset = offset
            self._save(task)

    def _service_of(
        self, task: TaskState, services: dict[tuple[str, str, str, str], dict[str, Any]]
    ) -> dict[str, Any] | None:
        group = task.snapshot.get("group") or ""
        if not group.startswith("service:"):
            return None
        snap = task.snapshot
        return services.get(
            (snap["account"], snap["region"], snap["cluster"], group[len("service:") :])
        )

    def _register(self, task: TaskState, service: dict[str, Any]) -> None:
        if task.registrations or not service.get("serviceRegistries"):
            return
        td = task.task_definition
        client = self.client("servicediscovery", task.snapshot["region"])
        done = []
        for registry in service["serviceRegistries"]:
            port = discovery.registry_port(registry, td["containerDefinitions"])
            attributes = discovery.instance_attributes(
                task.snapshot["address"],
                port,
                task.snapshot["cluster"],
                service["serviceName"],
                td["family"],
                task.snapshot["region"],
            )
            discovery.register(client, registry["registryArn"], task.id, attributes)
            done.append(registry["registryArn"])
        task.registrations = done
        self._save(task)

    def _deregister(self, task: TaskState) -> None:
        if not task.registrations:
            return
        client = self.client("servicediscovery", task.snapshot["region"])
        for arn in task.registrations:
            try:
                discovery.deregister(client, arn, task.id)
            except Exception as error:
                log.warning("deregistering %s from %s failed: %s", task.id, arn, error)
        task.registrations = []

    # --- reconciliation ----------------------------------------------------------------------
    def _task_report(self, task: TaskState) -> dict[str, Any]:
        containers_stopped = all(c.status == "STOPPED" for c in task.containers.values())
        actual = lifecycle.actual_stage(task.status, containers_stopped)
        path = lifecycle.stages(task.in_service, task.started_at is not None)
        last = task.reported_status = lifecycle.next_reported(task.reported_status, actual, path)
        report: dict[str, Any] = {
            "account": task.snapshot["account"],
            "region": task.snapshot["region"],
            "taskArn": task.arn,
            "lastStatus": last,
            "healthStatus": task.health,
            "containers": [
                {
                    "name": c.name,
                    "lastStatus": c.status,
                    "exitCode": c.exit_code,
                    "reason": c.reason,
                    "healthStatus": c.health_status if c.health else "UNKNOWN",
                    "runtimeId": c.handle.runtime_id if c.handle else None,
                }
                for c in task.containers.values()
            ],
        }
        for key, value in (
            ("pullStartedAt", task.pull_started_at),
            ("pullStoppedAt", task.pull_stopped_at),
            ("startedAt", task.started_at),
            ("stoppingAt", task.stopping_at),
            ("stoppedAt", task.stopped_at if last == lifecycle.STOPPED else None),
            ("executionStoppedAt", task.stopped_at),
        ):
            if value:
                report[key] = _iso(value)
        if task.status in ("STOPPING", "STOPPED"):
            report["desiredStatus"] = "STOPPED"
            report["stoppedReason"] = task.stopped_reason
            report["stopCode"] = task.stop_code
        return report

    def reconcile(self, snap: dict[str, Any], requested_at: float) -> None:
        now = time.time()
        definitions = snap["taskDefinitions"]
        wanted = {t["taskArn"]: t for t in snap["tasks"]}
        services = {
            (s["account"], s["region"], s["cluster"], s["serviceName"]): s for s in snap["services"]
        }
        service_reports: list[dict[str, Any]] = []

        for arn, snap_task in wanted.items():
            local = self.tasks.get(arn)
            if local is None:
                if snap_task["desiredStatus"] == "RUNNING" and arn not in self.done:
                    self.start_task(snap_task, definitions[snap_task["taskDefinitionArn"]])
                continue
            local.snapshot["desiredStatus"] = snap_task["desiredStatus"]
            if snap_task["desiredStatus"] == "STOPPED":
                self.begin_stop(
                    local, snap_task.get("stoppedReason") or "Task stopped", "UserInitiated"
                )
        for arn, local in list(self.tasks.items()):
            if arn not in wanted and local.created < requested_at and local.status != "STOPPED":
                self.begin_stop(local, "Task is gone from the emulator", "TaskOrphaned")
                local.reported = "gone"

        for local in list(self.tasks.values()):
            self._watch(local, now)

        # The service scheduler.
        by_service: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        known = [t for t in wanted.values() if t["taskArn"] not in self.done]
        known += [
            t.snapshot
            for arn, t in self.tasks.items()
            if arn not in wanted and t.created >= requested_at
        ]
        for snap_task in known:
            group = snap_task.get("group") or ""
            if group.startswith("service:") and snap_task["desiredStatus"] == "RUNNING":
                key = (
                    snap_task["account"],
                    snap_task["region"],
                    snap_task["cluster"],
                    group[len("service:") :],
                )
                local = self.tasks.get(snap_task["taskArn"])
                if local is not None and local.status in ("STOPPING", "STOPPED"):
                    continue
                by_service.setdefault(key, []).append(snap_task)
        held_ports = {
            port
            for task in self.tasks.values()
            if task.status != "STOPPED"
            for port in host_ports(task.task_definition)
        }
        for key in set(by_service) | set(services):
            service = services.get(key) or {"status": "MISSING", "deployments": []}
            views = []
            for snap_task in by_service.get(key, []):
                local = self.tasks.get(snap_task["taskArn"])
                views.append(
                    TaskView(
                        snap_task["taskArn"],
                        snap_task["taskDefinitionArn"],
                        snap_task["startedBy"],
                        _scheduler_status(local),
                        bool(local and local.healthy),
                        (local.started_at or now) if local else now,
                        bool(local and local.settled(now)),
                    )
                )
            skey = "/".join(key)
            stable = [v for v in views if v.healthy and now - v.started_at >= STABLE_AFTER]
            if any(v.last_status == "RUNNING" for v in views):
                self.throttle.task_running(skey)
            primary = next((d for d in service["deployments"] if d["status"] == "PRIMARY"), None)
            if primary is not None:
                self.throttle.deployment(skey, primary["taskDefinition"])
            self._count_failures(service, stable)
            ports = self._service_host_ports(service, definitions)
            plan = plan_service(
                service,
                views,
                may_start=self.throttle.may_start(skey, now),
                failures=self.failures,
                failed=self.failed_deployments,
            )
            self._note_breaker(service, skey, plan.deployments)
            stopped: list[str] = []
            for arn, reason in plan.stop:
                if arn in self.tasks:
                    if self.tasks[arn].status == "RUNNING":
                        stopped.append(self.tasks[arn].id)
                    self.begin_stop(self.tasks[arn], reason, "ServiceSchedulerInitiated")
            started: list[str] = []
            for _ in range(plan.start):
                if ports & held_ports:
                    break
                if (task_id := self._start_service_task(service, now)) is not None:
                    started.append(task_id)
                held_ports |= ports
            if key in services:
                service_reports.append(
                    {
                        "account": key[0],
                        "region": key[1],
                        "cluster": key[2],
                        "service": key[3],
                        "runningCount": plan.running,
                        "pendingCount": plan.pending,
                        "deployments": plan.deployments,
                        "events": [
                            *self.pending_events.pop(skey, []),
                            *scheduler_events(key[3], started, stopped),
                        ],
                    }
                )

        self._forget_deployments(snap["services"])
        self.throttle.forget({"/".join(key) for key in services})

        # Registrations of healthy service tasks.
        for local in self.tasks.values():
            service = self._service_of(local, services)
            if service and local.healthy and service["status"] == "ACTIVE":
                try:
                    self._register(local, service)
                except Exception as error:
                    log.warning("registering %s failed: %s", local.id, error)
        self._flush_logs(now)
        self._report(service_reports)

    @staticmethod
    def _service_host_ports(
        service: dict[str, Any], definitions: dict[str, dict[str, Any]]
    ) -> set[int]:
        primary = next((d for d in service["deployments"] if d["status"] == "PRIMARY"), None)
        if primary is None or primary["taskDefinition"] not in definitions:
            return set()
        return host_ports(definitions[primary["taskDefinition"]])

    def _start_service_task(self, service: dict[str, Any], now: float) -> str | None:
        """Creates a task of the PRIMARY deployment in the emulator and starts it; its id."""
        primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
        snap_task = self.hook.create_service_task(
            {
                "account": service["account"],
                "region": service["region"],
                "cluster": service["cluster"],
                "service": service["serviceName"],
                "taskDefinition": primary["taskDefinition"],
                "startedBy": primary["id"],
            }
        )
        td = (
            self._snapshot["taskDefinitions"][primary["taskDefinition"]] if self._snapshot else None
        )
        if td is None:
            return None
        return self.start_task(snap_task, td).id

    def _count_failures(self, service: dict[str, Any], stable: list[TaskView]) -> None:
        """Seeds the failed-task counts of the service's deployments from the emulator once, and
        resets a deployment's count when one of its tasks stayed healthy (resetOnHealthyTask,
        ECS's default): a task that is RUNNING for a moment before it exits is no success."""
        for deployment in service["deployments"]:
            if deployment["id"] not in self.failures_seeded:
                self.failures_seeded.add(deployment["id"])
                seeded = int(deployment.get("failedTasks") or 0)
                self.failures[deployment["id"]] = self.failures.get(deployment["id"], 0) + seeded
        if service.get("status") == "ACTIVE" and CircuitBreaker.of(service).reset_on_healthy_task:
            for view in stable:
                self.failures[view.started_by] = 0

    def _note_breaker(
        self, service: dict[str, Any], skey: str, deployments: list[dict[str, Any]]
    ) -> None:
        """Remembers a deployment the circuit breaker failed: the next snapshot may still show it
        IN_PROGRESS. A rollback starts unthrottled, with fresh counts."""
        for entry in deployments:
            if entry.get("rolloutState") != "FAILED" or entry["id"] in self.failed_deployments:
                continue
            self.failed_deployments.add(entry["id"])
            log.warning(
                "service %s: deployment %s failed after %d failed tasks (circuit breaker%s)",
                service["serviceName"],
                entry["id"],
                entry.get("failedTasks", 0),
                ", rolling back" if entry.get("rollback") else "",
            )
            if entry.get("rollback"):
                self.throttle.reset(skey)
                for deployment in service["deployments"]:
                    if deployment["id"] != entry["id"]:
                        self.failures[deployment["id"]] = 0

    def _forget_deployments(self, services: list[dict[str, Any]]) -> None:
        listed = {d["id"] for s in services for d in s["deployments"]}
        for deployment_id in set(self.failures) - listed:
            del self.failures[deployment_id]
        self.failures_seeded &= listed
        self.failed_deployments &= listed

    def _note_failure(self, task: TaskState) -> None:
        """Counts a failed service task once, when it fails: the scheduler of the same
        reconciliation then respects the service's throttle (ecs_local/throttle.py)."""
        if task.failure_noted or self._snapshot is None:
            return
        task.failure_noted = True
        services = {
            (s["account"], s["region"], s["cluster"], s["serviceName"]): s
            for s in self._snapshot["services"]
        }
        if (service := self._service_of(task, services)) is not None:
            self.record_failure(service, reached_running=task.started_at is not None)
            deployment = task.snapshot.get("startedBy") or ""
            self.failures[deployment] = self.failures.get(deployment, 0) + 1

    def record_failure(self, service: dict[str, Any], reached_running: bool) -> None:
        key = "/".join(
            (service["account"], service["region"], service["cluster"], service["serviceName"])
        )
        if self.throttle.task_failed(key, reached_running, time.time()):
            message = THROTTLED_EVENT.format(service=service["serviceName"])
            self.pending_events.setdefault(key, []).append(message)

    def _flush_logs(self, now: float) -> None:
        if now < self._log_flush_at:
            return
        self._log_flush_at = now + 1.0
        for task in self.tasks.values():
            for container in task.containers.values():
                if container.status == "RUNNING":
                    self._ship_logs(task, container, final=False)

    def _report(self, service_reports: list[dict[str, Any]]) -> None:
        tasks = []
        for task in list(self.tasks.values()):
            report = self._task_report(task)
            digest = json.dumps(report, sort_keys=True, default=str)
            if digest != task.reported:
                tasks.append(report)
                task.reported = digest
        if tasks or service_reports:
            digest = json.dumps(service_reports, sort_keys=True)
            if tasks or digest != getattr(self, "_services_reported", ""):
                self.hook.report(tasks, service_reports)
                self._services_reported = digest
        for arn, task in list(self.tasks.items()):
            if task.status == "STOPPED" and task.reported_status == lifecycle.STOPPED:
                self._save(task)
                for container in task.containers.values():
                    if container.handle is not None:
                        self.stats.forget(container.handle.runtime_id)
                with self._lock:
                    self.done.add(arn)
                    del self.tasks[arn]
                    for token in [t for t, v in self.tokens.items() if v[0] == arn]:
                        del self.tokens[token]

    # --- the loop ----------------------------------------------------------------------------
    def _watch_emulator(self) -> None:
        generation = -1
        while not self.stopping.is_set():
            requested = time.time()
            try:
                snap = self.hook.snapshot(since=generation, wait=10.0)
            except (HookError, OSError) as error:
                log.warning("emulator snapshot failed: %s", error)
                self.stopping.wait(1.0)
                continue
            generation = snap["generation"]
            with self._lock:
                self._snapshot, self._snapshot_requested = snap, requested
            self.wake.set()

    def tick_interval(self) -> float:
        """Fast while tasks run; else until the earliest throttled service may start (or 5 s)."""
        if self.tasks:
            return 0.2
        wait = self.throttle.next_wake(time.time())
        return max(0.05, min(5.0, wait if wait is not None else 5.0))

    def run(self) -> None:
        threading.Thread(target=self._watch_emulator, name="emulator-watch", daemon=True).start()
        while not self.stopping.is_set():
            self.wake.wait(self.tick_interval())
            self.wake.clear()
            with self._lock:
                snap, requested = self._snapshot, self._snapshot_requested
            if snap is None:
                continue
            try:
                self.reconcile(snap, requested)
            except Exception:
                log.exception("reconcile pass failed")
