"""The reconciler: ECS agent + service scheduler, level-triggered against the emulator's state.

Each pass compares the emulator's ECS state (a hook snapshot) with the local tasks and acts:
start tasks the emulator wants running, stop those it wants stopped, keep every ACTIVE
service at its desiredCount with rolling deployments, then reports what really runs back to
the emulator. Local tasks are persisted under ``<state-dir>/tasks/<id>/`` so a new runtime
process adopts the processes that still run instead of starting duplicates.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from dagster_ecs_emulator.ecs_protocol import (
    ContainerReport,
    DeploymentReport,
    Report,
    ServiceReport,
    ServiceTaskRequest,
    TaskReport,
)
from ecs_local import awslogs, discovery, lifecycle
from ecs_local.aws_clients import AwsClients
from ecs_local.breaker import DeploymentFailures
from ecs_local.container_specs import ContainerSpecs
from ecs_local.environment import (
    SecretError,
)
from ecs_local.health import HealthCheck
from ecs_local.hook_client import HookClient, HookError
from ecs_local.images import ImageStore
from ecs_local.runtime import ContainerRuntime
from ecs_local.scheduler import TaskView, plan_service, scheduler_events
from ecs_local.stats import StatsReader
from ecs_local.task_endpoints import TaskEndpoints
from ecs_local.task_state import (
    DEFAULT_STOP_TIMEOUT,
    ContainerState,
    TaskState,
    container_definition,
    ephemeral_storage,
    execution_role,
    host_ports,
    iso,
    save_task,
    scheduler_status,
    secret_names,
)
from ecs_local.throttle import THROTTLED_EVENT, ServiceThrottle
from ecs_local.unsupported import unsupported_features

T = TypeVar("T")


def _iso(value: float | None) -> str | None:
    return iso(value) if value else None


log = logging.getLogger("ecs_local")

STABLE_AFTER = 10.0


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
        self.region = region
        self.hook = HookClient(endpoint)
        self.aws = AwsClients(endpoint, self.hook, region)
        self.tasks: dict[str, TaskState] = {}
        self.done: set[str] = set()
        self.tokens: dict[str, tuple[str, str | None]] = {}
        self.throttle = ServiceThrottle()
        self.stats = StatsReader()
        self.pending_events: dict[str, list[str]] = {}
        self.breaker = DeploymentFailures()
        self.specs = ContainerSpecs(images, self.aws, metadata_port, endpoint)
        self.announced_unsupported: set[tuple[str, str]] = set()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._snapshot: dict[str, Any] | None = None
        self._snapshot_requested = 0.0
        self._lock = threading.RLock()
        self._log_flush_at = 0.0
        self.endpoints = TaskEndpoints(self.tasks, self.tokens, self._lock, self.stats, self.aws)
        (state_dir / "tasks").mkdir(parents=True, exist_ok=True)

    def client(self, service: str, region: str | None = None, role_arn: str | None = None) -> Any:
        return self.aws.client(service, region, role_arn)

    # --- persistence -------------------------------------------------------------------------
    def _save(self, task: TaskState) -> None:
        save_task(task)

    def adopt(self) -> int:
        """Loads the task records of earlier runtime processes; their processes keep running."""
        count = 0
        for path in sorted((self.state_dir / "tasks").glob("*/task.json")):
            data = json.loads(path.read_text())
            if data["status"] == "STOPPED":
                continue
            task = TaskState.from_json(data, path.parent)
            for name, container in task.containers.items():
                definition = container_definition(task.task_definition, name)
                if container.spec is not None:
                    self._recover_secrets(task, container, definition)
                if definition.get("healthCheck") and container.started_at:
                    container.health = HealthCheck.from_definition(
                        definition["healthCheck"], container.started_at
                    )
                    container.health.status = container.health_status
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
            spec.env.update(self.specs.secret_values(task, definition, role))
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
            specs = self.specs.build(task, td, overrides, execution_role(snap, td))
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
    def _task_report(self, task: TaskState) -> TaskReport:
        containers_stopped = all(c.status == "STOPPED" for c in task.containers.values())
        actual = lifecycle.actual_stage(task.status, containers_stopped)
        path = lifecycle.stages(task.in_service, task.started_at is not None)
        last = task.reported_status = lifecycle.next_reported(task.reported_status, actual, path)
        stopping = task.status in ("STOPPING", "STOPPED")
        return TaskReport(
            account=task.snapshot["account"],
            region=task.snapshot["region"],
            task_arn=task.arn,
            last_status=last,
            health_status=task.health,
            containers=[
                ContainerReport(
                    name=c.name,
                    last_status=c.status,
                    exit_code=c.exit_code,
                    reason=c.reason,
                    health_status=c.health_status if c.health else "UNKNOWN",
                    runtime_id=c.handle.runtime_id if c.handle else None,
                    image_digest=c.image_digest or None,
                )
                for c in task.containers.values()
            ],
            pull_started_at=_iso(task.pull_started_at),
            pull_stopped_at=_iso(task.pull_stopped_at),
            started_at=_iso(task.started_at),
            stopping_at=_iso(task.stopping_at),
            stopped_at=_iso(task.stopped_at if last == lifecycle.STOPPED else None),
            execution_stopped_at=_iso(task.stopped_at),
            desired_status="STOPPED" if stopping else None,
            stopped_reason=task.stopped_reason if stopping else None,
            stop_code=task.stop_code if stopping else None,
        )

    def reconcile(self, snap: dict[str, Any], requested_at: float) -> None:
        """One level-triggered pass: tasks, then each service, then registrations and reports."""
        now = time.time()
        definitions = snap["taskDefinitions"]
        wanted = {t["taskArn"]: t for t in snap["tasks"]}
        services = {
            (s["account"], s["region"], s["cluster"], s["serviceName"]): s for s in snap["services"]
        }
        self._reconcile_tasks(wanted, definitions, requested_at, now)
        by_service = self._service_tasks(wanted, requested_at)
        held_ports = {
            port
            for task in self.tasks.values()
            if task.status != "STOPPED"
            for port in host_ports(task.task_definition)
        }
        service_reports = []
        for key in set(by_service) | set(services):
            service = services.get(key) or {"status": "MISSING", "deployments": []}
            schedule = partial(
                self._schedule_service,
                key,
                service,
                by_service.get(key, []),
                definitions,
                held_ports,
                now,
            )
            report = self._guarded(f"scheduling service {key[3]}", schedule)
            if key in services and report is not None:
                service_reports.append(report)
        self.breaker.forget({d["id"] for s in snap["services"] for d in s["deployments"]})
        self.throttle.forget({"/".join(key) for key in services})
        self._register_healthy(services)
        self._flush_logs(now)
        self._report(service_reports)

    def _reconcile_tasks(
        self,
        wanted: dict[str, dict[str, Any]],
        definitions: dict[str, dict[str, Any]],
        requested_at: float,
        now: float,
    ) -> None:
        """Starts what the emulator wants running, stops what it wants stopped or forgot."""
        for arn, snap_task in wanted.items():
            self._guarded(f"task {arn}", partial(self._converge_task, snap_task, definitions))
        for arn, local in list(self.tasks.items()):
            if arn not in wanted and local.created < requested_at and local.status != "STOPPED":
                orphaned = partial(
                    self.begin_stop, local, "Task is gone from the emulator", "TaskOrphaned"
                )
                self._guarded(f"task {arn}", orphaned)
                local.reported = "gone"
        for local in list(self.tasks.values()):
            self._guarded(f"task {local.arn}", partial(self._watch, local, now))

    def _converge_task(
        self, snap_task: dict[str, Any], definitions: dict[str, dict[str, Any]]
    ) -> None:
        local = self.tasks.get(snap_task["taskArn"])
        if local is None:
            if snap_task["desiredStatus"] == "RUNNING" and snap_task["taskArn"] not in self.done:
                self.start_task(snap_task, definitions[snap_task["taskDefinitionArn"]])
            return
        local.snapshot["desiredStatus"] = snap_task["desiredStatus"]
        if snap_task["desiredStatus"] == "STOPPED":
            self.begin_stop(
                local, snap_task.get("stoppedReason") or "Task stopped", "UserInitiated"
            )

    @staticmethod
    def _guarded(what: str, step: Callable[[], T]) -> T | None:
        """One object's step of a pass. Its failure is logged and the pass goes on, as a
        per-object work queue keeps one bad task or service from stalling the others (and the
        status report of every one)."""
        try:
            return step()
        except Exception:
            log.exception("%s failed; the other tasks and services carry on", what)
            return None

    def _service_tasks(
        self, wanted: dict[str, dict[str, Any]], requested_at: float
    ) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
        """Each service's live tasks: the snapshot's, and those started since it was taken."""
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
        return by_service

    def _schedule_service(
        self,
        key: tuple[str, str, str, str],
        service: dict[str, Any],
        snap_tasks: list[dict[str, Any]],
        definitions: dict[str, dict[str, Any]],
        held_ports: set[int],
        now: float,
    ) -> ServiceReport:
        """The service scheduler for one service: plans, stops, starts; returns its report."""
        views = []
        for snap_task in snap_tasks:
            local = self.tasks.get(snap_task["taskArn"])
            views.append(
                TaskView(
                    snap_task["taskArn"],
                    snap_task["taskDefinitionArn"],
                    snap_task["startedBy"],
                    scheduler_status(local),
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
        self.breaker.observe(service, (view.started_by for view in stable))
        ports = self._service_host_ports(service, definitions)
        plan = plan_service(
            service,
            views,
            may_start=self.throttle.may_start(skey, now),
            failures=self.breaker.counts,
            failed=self.breaker.failed,
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
        return ServiceReport(
            account=key[0],
            region=key[1],
            cluster=key[2],
            service=key[3],
            running_count=plan.running,
            pending_count=plan.pending,
            deployments=plan.deployments,
            events=[
                *self.pending_events.pop(skey, []),
                *scheduler_events(key[3], started, stopped),
            ],
        )

    def _register_healthy(self, services: dict[tuple[str, str, str, str], dict[str, Any]]) -> None:
        """Registers each healthy service task in its service's Cloud Map registries."""
        for local in self.tasks.values():
            service = self._service_of(local, services)
            if service and local.healthy and service["status"] == "ACTIVE":
                try:
                    self._register(local, service)
                except Exception as error:
                    log.warning("registering %s failed: %s", local.id, error)

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
            ServiceTaskRequest(
                account=service["account"],
                region=service["region"],
                cluster=service["cluster"],
                service=service["serviceName"],
                task_definition=primary["taskDefinition"],
                started_by=primary["id"],
            )
        )
        td = (
            self._snapshot["taskDefinitions"][primary["taskDefinition"]] if self._snapshot else None
        )
        if td is None:
            return None
        return self.start_task(snap_task, td).id

    def _note_breaker(
        self, service: dict[str, Any], skey: str, deployments: list[DeploymentReport]
    ) -> None:
        """Logs a deployment the circuit breaker failed; a rollback starts unthrottled."""
        for entry in self.breaker.newly_failed(service, deployments):
            log.warning(
                "service %s: deployment %s failed after %d failed tasks (circuit breaker%s)",
                service["serviceName"],
                entry.id,
                entry.failed_tasks or 0,
                ", rolling back" if entry.rollback else "",
            )
            if entry.rollback:
                self.throttle.reset(skey)

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
            self.breaker.task_failed(task.snapshot.get("startedBy") or "")

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

    def _report(self, service_reports: list[ServiceReport]) -> None:
        tasks = []
        for task in list(self.tasks.values()):
            report = self._task_report(task)
            digest = report.model_dump_json()
            if digest != task.reported:
                tasks.append(report)
                task.reported = digest
        if tasks or service_reports:
            digest = json.dumps([s.wire() for s in service_reports], sort_keys=True)
            if tasks or digest != getattr(self, "_services_reported", ""):
                self.hook.report(Report(tasks=tasks, services=service_reports))
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
