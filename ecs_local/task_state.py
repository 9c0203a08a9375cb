"""A task as the runtime holds it: its containers, its lifecycle, its record on disk.

Records live in ``<state-dir>/tasks/<id>/task.json`` (mode 0600) so a new runtime process adopts
the processes that still run; the values of a container's ``secrets`` are never written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_local import lifecycle
from ecs_local.health import HealthCheck
from ecs_local.runtime import ContainerHandle, ContainerSpec

DEFAULT_STOP_TIMEOUT = 30.0
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


def container_definition(task_definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in task_definition["containerDefinitions"] if d["name"] == name)


def secret_names(task_definition: dict[str, Any], name: str) -> set[str]:
    """The variables of a container whose values come from ``secrets``: never persisted."""
    return {s["name"] for s in container_definition(task_definition, name).get("secrets") or []}


def execution_role(snapshot: dict[str, Any], task_definition: dict[str, Any]) -> str | None:
    overrides = snapshot.get("overrides") or {}
    return overrides.get("executionRoleArn") or task_definition.get("executionRoleArn")


def scheduler_status(task: TaskState | None) -> str:
    if task is None or (task.status == "RUNNING" and not task.reported_running):
        return "PENDING"
    return task.status


def iso(ts: float | None) -> str | None:
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
    image_digest: str = ""


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

    @classmethod
    def from_json(cls, data: dict[str, Any], directory: Path) -> TaskState:
        """The task a record of :meth:`to_json` describes (secret values not included)."""
        task = cls(data["snapshot"], data["taskDefinition"], directory, data["token"])
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
            container.image_digest = c.get("imageDigest", "")
            if c["spec"]:
                spec = c["spec"]
                container.spec = ContainerSpec(
                    name, spec["argv"], spec["env"], spec["cwd"], directory
                )
            task.containers[name] = container
        return task

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
                    "imageDigest": c.image_digest,
                    "spec": None if c.spec is None else self._spec_json(c.spec),
                }
                for name, c in self.containers.items()
            },
        }


def save_task(task: TaskState) -> None:
    """Writes the task's record atomically, readable by its owner only."""
    task.directory.mkdir(parents=True, exist_ok=True)
    path = task.directory / "task.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(task.to_json(), handle, default=str)
    tmp.replace(path)
