"""Runs inside the emulator (moto) process: the runtime's window onto moto's ECS backend.

The ECS runtime (``python -m ecs_local``) is a separate process. It reads the desired state
and writes back the observed state through a few internal routes, so that the ordinary ECS
API (describe_tasks, list_tasks, describe_services) reports what really runs:

- ``GET  /_ecs_local/snapshot?since=N&wait=S`` - services, live tasks and their task
  definitions; long-polls until an ECS write call moved the generation past ``since``.
- ``POST /_ecs_local/service-tasks`` - the service scheduler creates a task of a service.
- ``POST /_ecs_local/assume-role`` - task/execution role credentials, vended as by the
  ``ecs-tasks.amazonaws.com`` service principal (the role's trust policy must allow it).
- ``POST /_ecs_local/report`` - task states (lastStatus, exit codes, timestamps...), task stop
  requests of the scheduler, service counts and deployments. A deployment reported FAILED by
  the circuit breaker is failed here, once, with ECS's reason and service events, and with
  ``rollback`` the service goes back to its last COMPLETED deployment.

Every task gets its own loopback address (127.1.x.y) as its ENI's private IP: the address a
process of the task can bind and Cloud Map advertises.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.utils import utcnow
from moto.ecs import models as ecs_models
from moto.moto_api import state_manager

from dagster_ecs_emulator import ecs_shims
from dagster_ecs_emulator.ecs_protocol import (
    AssumeRoleRequest,
    Report,
    RoleCredentials,
    ServiceReport,
    ServiceTaskRequest,
    TaskReport,
)

PREFIX = "/_ecs_local/"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
_READ_ACTIONS = ("Describe", "List")

_changed = threading.Condition()
_generation = 0
_addresses = itertools.count(1)
_installed = False


def _bump() -> None:
    global _generation
    with _changed:
        _generation += 1
        _changed.notify_all()


def task_address(n: int) -> str:
    """The n-th task loopback address: 127.1.0.1, 127.1.0.2, ... (never .0 or .255)."""
    n = n % (256 * 254)
    return f"127.1.{n // 254}.{n % 254 + 1}"


def _ts(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else None


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _backends() -> Iterable[tuple[str, str, Any]]:
    for account_id, regions in dict.items(ecs_models.ecs_backends):
        for region, backend in dict.items(regions):
            yield account_id, region, backend


def _backend(account: str, region: str) -> Any:
    return ecs_models.ecs_backends[account][region]


def _task_definition(td: Any) -> dict[str, Any]:
    return {
        "taskDefinitionArn": td.arn,
        "family": td.family,
        "revision": td.revision,
        "containerDefinitions": td.container_definitions,
        "taskRoleArn": getattr(td, "task_role_arn", None),
        "executionRoleArn": getattr(td, "execution_role_arn", None),
        "networkMode": td.network_mode,
        "cpu": td.cpu,
        "memory": td.memory,
        "requiresCompatibilities": td.requires_compatibilities,
        "volumes": getattr(td, "volumes", None) or [],
        "runtimePlatform": getattr(td, "runtime_platform", None),
    }


def _task(task: Any) -> dict[str, Any]:
    eni = {}
    for attachment in task.attachments:
        if attachment.get("type") == "ElasticNetworkInterface":
            eni = {d["name"]: d["value"] for d in attachment["details"]}
    return {
        "taskArn": task.task_arn,
        "id": task.id,
        "clusterArn": task.cluster_arn,
        "cluster": task.cluster_name,
        "taskDefinitionArn": task.task_definition_arn,
        "group": task.group,
        "startedBy": task.started_by,
        "desiredStatus": task.desired_status,
        "lastStatus": task.last_status,
        "stoppedReason": task.stopped_reason,
        "overrides": task.overrides,
        "launchType": task.launch_type or "FARGATE",
        "createdAt": _ts(getattr(task, "created_at", None)),
        "address": eni.get("privateIPv4Address", "127.0.0.1"),
        "eni": eni,
        "containers": [{"name": c.name, "containerArn": c.container_arn} for c in task.containers],
    }


_DEPLOYMENT_KEYS = ("id", "status", "taskDefinition", "desiredCount", "rolloutState", "failedTasks")


def _service(service: Any) -> dict[str, Any]:
    return {
        "serviceArn": service.arn,
        "serviceName": service.name,
        "cluster": service.cluster_name,
        "clusterArn": service.cluster_arn,
        "status": service.status,
        "desiredCount": service.desired_count,
        "taskDefinition": service.task_definition,
        "launchType": service.launch_type,
        "schedulingStrategy": service.scheduling_strategy,
        "deploymentConfiguration": getattr(service, "deployment_configuration", None)
        or {"minimumHealthyPercent": 100, "maximumPercent": 200},
        "serviceRegistries": service.service_registries,
        "loadBalancers": service.load_balancers,
        "networkConfiguration": service.network_configuration or None,
        "deployments": [
            {k: v for k, v in d.items() if k in _DEPLOYMENT_KEYS} for d in service.deployments
        ],
    }


def snapshot() -> dict[str, Any]:
    services: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    definitions: dict[str, dict[str, Any]] = {}
    for account_id, region, backend in _backends():
        for service in list(backend.services.values()):
            services.append({"account": account_id, "region": region, **_service(service)})
        for cluster_tasks in list(backend.tasks.values()):
            for task in list(cluster_tasks.values()):
                if task.last_status == "STOPPED":
                    continue
                tasks.append({"account": account_id, "region": region, **_task(task)})
        for family in list(backend.task_definitions.values()):
            for td in list(family.values()):
                definitions[td.arn] = _task_definition(td)
    return {
        "generation": _generation,
        "services": services,
        "tasks": tasks,
        "taskDefinitions": definitions,
    }


def _find_task(backend: Any, task_arn: str) -> Any:
    for cluster_tasks in backend.tasks.values():
        if task_arn in cluster_tasks:
            return cluster_tasks[task_arn]
    return None


def _prepare_task(task: Any, backend: Any) -> None:
    """Gives a new task ECS's initial state, one container per container definition and its
    own loopback address."""
    task.status = "PROVISIONING"
    task.created_at = utcnow()
    task.cpu = None
    task.memory = None
    task.health_status = "UNKNOWN"
    task.connectivity = "CONNECTED"
    task.connectivity_at = task.created_at
    td = backend.describe_task_definition(task.task_definition_arn)
    task.cpu, task.memory = td.cpu, td.memory
    containers = []
    for definition in td.container_definitions:
        container = ecs_models.Container(td)  # type: ignore[abstract]
        container.task_arn = task.task_arn
        container.name = definition.get("name")
        container.image = definition.get("image")
        container.cpu = definition.get("cpu", 0)
        container.memory = definition.get("memory")
        container.exitCode = None  # type: ignore[assignment]
        container.health_status = "UNKNOWN"
        container.last_status = "PENDING"
        containers.append(container)
    task.containers = containers
    address = task_address(next(_addresses))
    for attachment in task.attachments:
        for detail in attachment.get("details", []):
            if detail["name"] == "privateIPv4Address":
                detail["value"] = address
            if detail["name"] == "privateDnsName":
                detail["value"] = (
                    f"ip-{address.replace('.', '-')}.{task.region_name}.compute.internal"
                )
        eni_id = next(
            (
                d["value"]
                for d in attachment.get("details", [])
                if d["name"] == "networkInterfaceId"
            ),
            None,
        )
        if eni_id:
            from moto.ec2 import ec2_backends

            eni = ec2_backends[task._account_id][task.region_name].get_network_interface(eni_id)
            eni.private_ip_address = address
        for container in containers:
            container.network_interfaces = [
                {"attachmentId": attachment["id"], "privateIpv4Address": address}
            ]


def _wrap_run_task() -> None:
    original = ecs_models.EC2ContainerServiceBackend.run_task

    def run_task(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            _prepare_task(task, self)
        return tasks

    ecs_models.EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]


def create_service_task(request: ServiceTaskRequest) -> dict[str, Any]:
    backend = _backend(request.account, request.region)
    service = backend._get_service(request.cluster, request.service)
    (task,) = backend.run_task(
        service.cluster_name,
        request.task_definition,
        1,
        None,
        request.started_by,
        service.tags if service.propagate_tags == "SERVICE" else None,
        service.launch_type,
        service.network_configuration or None,
        f"service:{service.name}",
        service.platform_version,
    )
    return {"account": request.account, "region": request.region, **_task(task)}


_TASK_STOP_FIELDS = ("desired_status", "stopped_reason", "stop_code")
_TASK_TIMES = (
    "pull_started_at",
    "pull_stopped_at",
    "started_at",
    "stopping_at",
    "stopped_at",
    "execution_stopped_at",
)
_CONTAINER_FIELDS = {
    "last_status": "last_status",
    "exit_code": "exitCode",
    "reason": "reason",
    "health_status": "health_status",
    "runtime_id": "runtime_id",
    "image_digest": "image_digest",
}


def _apply_task(backend: Any, update: TaskReport) -> None:
    task = _find_task(backend, update.task_arn)
    if task is None:
        return
    if update.last_status != task.last_status:
        task.version = getattr(task, "version", 1) + 1
    task.last_status, task.health_status = update.last_status, update.health_status
    for attr in _TASK_STOP_FIELDS:
        if getattr(update, attr) is not None:
            setattr(task, attr, getattr(update, attr))
    for attr in _TASK_TIMES:
        if getattr(update, attr):
            setattr(task, attr, _parse_ts(getattr(update, attr)))
    by_name = {c.name: c for c in task.containers}
    for container_update in update.containers:
        container = by_name.get(container_update.name)
        if container is None:
            continue
        for field, attr in _CONTAINER_FIELDS.items():
            setattr(container, attr, getattr(container_update, field))


BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."
_FINAL_STATES = ("COMPLETED", "FAILED")


def _rollback_target(service: Any, failed: dict[str, Any]) -> dict[str, Any] | None:
    """The service's last COMPLETED deployment (``id``, ``taskDefinition``), not ``failed``."""
    recorded = getattr(service, "ecs_local_completed", None)
    if recorded and recorded["id"] != failed["id"]:
        return dict(recorded)
    listed = [
        d for d in service.deployments if d is not failed and d.get("rolloutState") == "COMPLETED"
    ]
    if not listed:
        return None
    latest = max(listed, key=lambda d: d["createdAt"])
    return {"id": latest["id"], "taskDefinition": latest["taskDefinition"]}


def _trip_circuit_breaker(service: Any, deployment: dict[str, Any], rollback: bool) -> list[str]:
    """Fails a PRIMARY deployment as ECS's circuit breaker does. With ``rollback`` the last
    COMPLETED deployment becomes PRIMARY again (IN_PROGRESS) if it is still listed, else a new
    deployment of its task definition does; the service's taskDefinition reverts. Without a
    COMPLETED deployment the failed one stays PRIMARY and launches nothing (ECS: it stalls)."""
    now = utcnow()
    deployment.update(rolloutState="FAILED", rolloutStateReason=BREAKER_FAILED, updatedAt=now)
    events = [
        f"(service {service.name}) (deployment {deployment['id']}) deployment failed: "
        "tasks failed to start."
    ]
    target = _rollback_target(service, deployment) if rollback else None
    if target is None:
        return events
    deployment["status"] = "ACTIVE"
    revived = next((d for d in service.deployments if d["id"] == target["id"]), None)
    if revived is None:
        revived = ecs_shims.new_deployment(service, target["taskDefinition"])
    else:
        service.deployments.remove(revived)
        revived.update(status="PRIMARY", rolloutState="IN_PROGRESS", failedTasks=0, updatedAt=now)
    revived["desiredCount"] = service.desired_count
    revived["rolloutStateReason"] = (
        f"ECS deployment circuit breaker: rolling back to deploymentId {target['id']}"
    )
    service.deployments.insert(0, revived)
    service.task_definition = target["taskDefinition"]
    events.append(f"(service {service.name}) rolling back to deployment {target['id']}.")
    return events


def completion_events(service: str, deployment_id: str) -> list[str]:
    """ECS's service event messages when a deployment completes, oldest first."""
    return [
        f"(service {service}) (deployment {deployment_id}) deployment completed.",
        f"(service {service}) has reached a steady state.",
    ]


def _apply_service(backend: Any, update: ServiceReport) -> None:
    try:
        service = backend._get_service(update.cluster, update.service)
    except Exception:
        return
    service.running_count = update.running_count
    service.pending_count = update.pending_count
    by_id = {d.id: d for d in update.deployments}
    kept = []
    completed: list[str] = []
    tripped: tuple[dict[str, Any], bool] | None = None
    for deployment in service.deployments:
        change = by_id.get(deployment["id"])
        if change is None:
            kept.append(deployment)
            continue
        if change.drained and deployment["status"] != "PRIMARY":
            continue
        for key, value in (
            ("runningCount", change.running_count),
            ("pendingCount", change.pending_count),
            ("failedTasks", change.failed_tasks),
        ):
            if value is not None and deployment.get(key) != value:
                deployment[key] = value
                deployment["updatedAt"] = utcnow()
        # COMPLETED and FAILED are final: a differing report was planned before the transition.
        state, current = change.rollout_state, deployment.get("rolloutState")
        if state and state != current and current not in _FINAL_STATES:
            if state == "FAILED":
                if deployment["status"] == "PRIMARY":
                    tripped = (deployment, change.rollback)
            else:
                deployment["rolloutState"] = state
                text = state.lower().replace("_", " ")
                deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} {text}."
                deployment["updatedAt"] = utcnow()
                if state == "COMPLETED":
                    service.ecs_local_completed = {
                        "id": deployment["id"],
                        "taskDefinition": deployment["taskDefinition"],
                    }
                    completed += completion_events(service.name, deployment["id"])
        kept.append(deployment)
    service.deployments = kept
    messages = list(update.events) + completed
    if tripped is not None:
        messages += _trip_circuit_breaker(service, *tripped)
    for message in messages:
        service.events.insert(
            0, {"id": str(len(service.events)), "createdAt": utcnow(), "message": message}
        )
        del service.events[100:]


def report(body: Report) -> dict[str, Any]:
    for task in body.tasks:
        _apply_task(_backend(task.account, task.region), task)
    for service in body.services:
        _apply_service(_backend(service.account, service.region), service)
    for _account_id, _region, backend in _backends():
        for cluster in backend.clusters.values():
            live = [
                t
                for t in backend.tasks.get(cluster.name, {}).values()
                if t.last_status != "STOPPED"
            ]
            cluster.running_tasks_count = sum(1 for t in live if t.last_status == "RUNNING")
            cluster.pending_tasks_count = len(live) - cluster.running_tasks_count
            cluster.active_services_count = sum(
                1
                for s in backend.services.values()
                if s.cluster_name == cluster.name and s.status == "ACTIVE"
            )
    return {"ok": True}


ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


def _trusts_ecs_tasks(document: Any) -> bool:
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        allowed = any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
        if statement.get("Effect") == "Allow" and ECS_TASKS_PRINCIPAL in services and allowed:
            return True
    return False


def assume_role(request: AssumeRoleRequest) -> dict[str, Any]:
    """Credentials of a task (or execution) role, vended as ECS does: by the ecs-tasks service
    principal, so the role's trust policy must name it. The runtime's own IAM identity does not
    need sts:AssumeRole, and tasks get exactly their role's permissions."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    role_arn = request.role_arn
    account_id = role_arn.split(":")[4]
    role = iam_backends[account_id]["global"].get_role_by_arn(role_arn)
    if not _trusts_ecs_tasks(role.assume_role_policy_document):
        raise PermissionError(
            f"role {role_arn} does not trust {ECS_TASKS_PRINCIPAL} (its assume-role policy "
            "must allow the service principal to sts:AssumeRole)"
        )
    assumed = sts_backends[account_id]["aws"].assume_role(
        region_name=request.region,
        role_session_name=request.session_name[:64],
        role_arn=role_arn,
        policy="",
        duration=request.duration_seconds,
        external_id="",
    )
    return RoleCredentials(
        access_key_id=assumed.access_key_id,
        secret_access_key=assumed.secret_access_key,
        token=assumed.session_token,
        expiration=assumed.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        role_arn=role_arn,
    ).model_dump(by_alias=True)


def _wait_for_change(since: int, wait: float) -> None:
    with _changed:
        _changed.wait_for(lambda: _generation > since, timeout=wait)


class EcsLocalMiddleware:
    """WSGI middleware in front of moto: serves the internal routes and notices ECS writes."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self._internal(path[len(PREFIX) :], environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(ECS_TARGET):
            return self.app(environ, start_response)
        # moto's ECS handlers and the runtime's reports change the same objects (a report
        # replaces service.deployments while UpdateService inserts one): one lock orders them.
        with self.lock:
            result = self.app(environ, start_response)
        if not target[len(ECS_TARGET) :].startswith(_READ_ACTIONS):
            _bump()
        return result

    def _internal(
        self, route: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        try:
            if route == "snapshot":
                from urllib.parse import parse_qs

                query = parse_qs(environ.get("QUERY_STRING", ""))
                since = int(query.get("since", ["-1"])[0])
                wait = min(float(query.get("wait", ["0"])[0]), 30.0)
                _wait_for_change(since, wait)
                with self.lock:
                    payload = snapshot()
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                with self.lock:
                    if route == "service-tasks":
                        payload = create_service_task(ServiceTaskRequest.model_validate(body))
                    elif route == "report":
                        payload = report(Report.model_validate(body))
                    elif route == "assume-role":
                        payload = assume_role(AssumeRoleRequest.model_validate(body))
                    else:
                        start_response("404 Not Found", [("Content-Type", "application/json")])
                        return [b'{"error": "unknown route"}']
                if route != "assume-role":
                    _bump()
            status = "200 OK"
        except Exception as error:
            payload, status = (
                {"error": f"{type(error).__name__}: {error}"},
                "500 Internal Server Error",
            )
        data = json.dumps(payload, default=str).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]


def install(app: Callable[..., Any]) -> EcsLocalMiddleware:
    """Applies the moto shims, makes task states manual (the runtime reports them) and wraps
    the emulator's WSGI app."""
    global _installed
    if not _installed:
        ecs_shims.apply()
        _wrap_run_task()
        state_manager.set_transition(
            model_name="ecs::task", transition={"progression": "manual", "times": 2**62}
        )
        _installed = True
    return EcsLocalMiddleware(app)
