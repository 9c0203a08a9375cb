"""Work-arounds for gaps of moto 5.2.5's ECS backend, installed into the emulator process.

Each shim names the upstream behaviour it corrects and has a test in
``tests/integration/test_ecs_local_shims.py`` that fails without it. They are applied by
``ecs_hook.install`` (the emulator bootstrap calls it), under the version guard of ``moto_pin``;
the other services' shims are in ``shims``.
"""

from __future__ import annotations

import math
from typing import Any

from moto.core.utils import camelcase_to_underscores, utcnow
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import EcsClientException
from moto.moto_api._internal import mock_random

from dagster_ecs_emulator.moto_pin import require_pinned_moto

_applied = False


def new_deployment(service: Any, task_definition: str | None) -> dict[str, Any]:
    now = utcnow()
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    return {
        "createdAt": now,
        "desiredCount": service.desired_count,
        "failedTasks": 0,
        "id": deployment_id,
        "launchType": service.launch_type,
        "pendingCount": 0,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        "runningCount": 0,
        "platformVersion": service.platform_version,
        "networkConfiguration": service.network_configuration or None,
        "platformFamily": "EC2" if service.launch_type == "EC2" else "FARGATE",
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "updatedAt": now,
    }


def _shim_stop_task() -> None:
    """moto's StopTask sets lastStatus STOPPED at once; ECS only sets desiredStatus STOPPED and
    the agent reports STOPPED when the process has exited."""

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if arn.endswith(task_id):
                if task.desired_status != "STOPPED":
                    task.desired_status = "STOPPED"
                    task.stopped_reason = reason or "Task stopped by user"
                    task.stop_code = "UserInitiated"
                    task.stopping_at = utcnow()
                return task
        raise ecs_models.InvalidParameterException("The referenced task was not found.")

    ecs_models.EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]


def _shim_list_tasks() -> None:
    """moto's ListTasks ignores serviceName (a TODO upstream) and, without desiredStatus, lists
    every task ever started; ECS filters by service group and defaults to desiredStatus RUNNING."""
    original = ecs_models.EC2ContainerServiceBackend.list_tasks

    def list_tasks(
        self: Any,
        cluster_str: str | None = None,
        container_instance: str | None = None,
        family: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        desiredStatus: str | None = None,
    ) -> list[Any]:
        tasks = original(
            self,
            cluster_str,
            container_instance,
            family,
            started_by,
            None,
            desiredStatus or "RUNNING",
        )
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if t.group == group]
        return tasks

    ecs_models.EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]


def _shim_create_service() -> None:
    """moto's CreateService drops deploymentConfiguration (and healthCheckGracePeriodSeconds,
    enableExecuteCommand, availabilityZoneRebalancing), so minimumHealthyPercent/maximumPercent
    never reach describe_services."""
    original = ecs_responses.EC2ContainerServiceResponse.create_service

    def create_service(self: Any) -> Any:
        result = original(self)
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        config = {"minimumHealthyPercent": 100, "maximumPercent": 200}
        config.update(self._get_param("deploymentConfiguration") or {})
        service.deployment_configuration = config
        for key in ("healthCheckGracePeriodSeconds", "enableExecuteCommand"):
            value = self._get_param(key)
            if value is not None:
                setattr(service, camelcase_to_underscores(key), value)
        # ECS: a create request without it means ENABLED; moto drops it, so a configuration that
        # sets it (terraform's availability_zone_rebalancing) would plan a change for ever.
        service.availability_zone_rebalancing = (
            self._get_param("availabilityZoneRebalancing") or "ENABLED"
        )
        return result

    ecs_responses.EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]


def _shim_update_service() -> None:
    """moto's UpdateService with a new task definition (or forceNewDeployment) keeps the old
    deployment and its taskDefinition; with a desiredCount it claims runningCount == desiredCount.
    ECS starts a new PRIMARY deployment, keeps the old one ACTIVE until drained, and reports
    the counts that run."""
    original = ecs_models.EC2ContainerServiceBackend.update_service

    def update_service(self: Any, props: dict[str, Any]) -> Any:
        service = self._get_service(
            props.get("cluster", "default"), props["service"].split("/")[-1]
        )
        old_td, old_running, old_pending = (
            service.task_definition,
            service.running_count,
            service.pending_count,
        )
        force = bool(props.get("force_new_deployment"))
        result = original(self, props)
        if props.get("desired_count") is not None:
            service.running_count, service.pending_count = old_running, old_pending
        if service.task_definition and service.task_definition != old_td:
            service.task_definition = self.describe_task_definition(service.task_definition).arn
        changed = service.task_definition != old_td or force
        if changed and service.deployment_controller.get("type", "ECS") == "ECS":
            for deployment in service.deployments:
                if deployment["status"] == "PRIMARY":
                    deployment["status"] = "ACTIVE"
            service.deployments.insert(0, new_deployment(service, service.task_definition))
        for deployment in service.deployments:
            if deployment["status"] == "PRIMARY":
                deployment["desiredCount"] = service.desired_count
        return result

    ecs_models.EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign,assignment]


def _shim_fargate_memory() -> None:
    """moto's RunTask raises TypeError (HTTP 500) for a Fargate task definition whose containers
    have no memory/memoryReservation; Fargate takes the task-level memory."""
    original = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition: Any) -> dict[str, Any]:
        definitions = task_definition.container_definitions
        if all("memory" in d or "memoryReservation" in d for d in definitions):
            return original(task_definition)
        patched = [dict(d) for d in definitions]
        share = math.floor(int(task_definition.memory or 512) / max(len(patched), 1))
        for definition in patched:
            if "memory" not in definition and "memoryReservation" not in definition:
                definition["memoryReservation"] = share
        saved = task_definition.container_definitions
        task_definition.container_definitions = patched
        try:
            return original(task_definition)
        finally:
            task_definition.container_definitions = saved

    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(  # type: ignore[method-assign]
        calculate
    )


def _shim_eni_dns_name() -> None:
    """moto's NetworkInterface sets private_dns_name only in a VPC with enableDnsHostnames, but
    ECS's Task reads it for every awsvpc task: RunTask fails with AttributeError (HTTP 500) in
    any other VPC. The hook then writes the name ECS would give the task's address."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = None  # type: ignore[assignment]


HEALTH_CHECK_RANGES = {
    "interval": (5, 300),
    "timeout": (2, 60),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}
"""ECS API Reference, HealthCheck: "You may specify between 5 and 300 seconds" (interval),
2-60 s (timeout), 1-10 (retries), 0-300 s (startPeriod)."""


def health_check_problem(definitions: list[dict[str, Any]]) -> str | None:
    for definition in definitions:
        check = definition.get("healthCheck") or {}
        for field, (low, high) in HEALTH_CHECK_RANGES.items():
            value = check.get(field)
            if value is not None and not low <= int(value) <= high:
                return (
                    f"Container '{definition.get('name')}': healthCheck.{field} {value} is out "
                    f"of range; it must be between {low} and {high}"
                )
    return None


def _shim_health_check_ranges() -> None:
    """moto registers any healthCheck; ECS refuses values outside HealthCheck's documented
    ranges with a ClientException, so a check every second never reaches a task."""
    register = ecs_models.EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(
        self: Any, family: str, container_definitions: list[dict[str, Any]], *args: Any, **kw: Any
    ) -> Any:
        problem = health_check_problem(container_definitions)
        if problem is not None:
            raise EcsClientException(problem)
        return register(self, family, container_definitions, *args, **kw)

    ecs_models.EC2ContainerServiceBackend.register_task_definition = register_task_definition  # type: ignore[method-assign]


FARGATE_PLATFORM_VERSION = "1.4.0"
FARGATE_EPHEMERAL_GIB = 20


def _shim_task_fields() -> None:
    """moto's DescribeTasks omits fields ECS returns for every Fargate task: the
    availabilityZone of its subnet, platformVersion (LATEST is 1.4.0 on Linux) and
    platformFamily, the ephemeralStorage size (20 GiB unless the definition asks for more),
    enableExecuteCommand, and version (incremented by the hook on every state change)."""
    from moto.ecs.models import Task

    init = Task.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        task_definition = args[1] if len(args) > 1 else kwargs["task_definition"]
        fargate = (self.launch_type or "FARGATE") == "FARGATE"
        if fargate and self.platform_version in (None, "", "LATEST"):
            self.platform_version = FARGATE_PLATFORM_VERSION
        self.platform_family = "Linux"
        storage = getattr(task_definition, "ephemeral_storage", None) or {}
        self.ephemeral_storage = {
            "sizeInGiB": int(storage.get("sizeInGiB") or FARGATE_EPHEMERAL_GIB)
        }
        self.enable_execute_command = False
        self.version = 1
        self.availability_zone = _subnet_zone(self) or f"{self.region_name}a"

    Task.__init__ = __init__  # type: ignore[method-assign]


def _subnet_zone(task: Any) -> str | None:
    from moto.ec2.models import ec2_backends

    subnets = (
        (getattr(task, "network_configuration", None) or {}).get("awsvpcConfiguration") or {}
    ).get("subnets") or []
    if not subnets:
        return None
    try:
        backend = ec2_backends[task._account_id][task.region_name]
        return str(backend.get_subnet(subnets[0]).availability_zone)
    except Exception:
        return None


TAG_ON_CREATE = (
    "create_capacity_provider",
    "create_cluster",
    "create_service",
    "create_task_set",
    "register_task_definition",
    "run_task",
)


def _shim_tag_on_create_authorization() -> None:
    """moto authorises only the action called. ECS, for a creating action that carries tags,
    also authorises ``ecs:TagResource`` ("If tags are specified in the resource-creating action,
    AWS performs additional authorization"; Grant permission to tag resources on creation), so
    a role allowed ``ecs:RunTask`` alone cannot launch a tagged task, as EcsRunLauncher's are."""
    response_class = ecs_responses.EC2ContainerServiceResponse

    def authorising_tags(action: Any) -> Any:
        def checked(self: Any) -> Any:
            if self._get_param("tags"):
                self._get_action = lambda: "TagResource"
                try:
                    self._authenticate_and_authorize_normal_action()
                finally:
                    del self._get_action
            return action(self)

        return checked

    for name in TAG_ON_CREATE:
        setattr(response_class, name, authorising_tags(getattr(response_class, name)))


def apply() -> None:
    """Applies every shim once; refuses another moto version, where the gaps may have moved."""
    global _applied
    if _applied:
        return
    require_pinned_moto()
    _shim_stop_task()
    _shim_list_tasks()
    _shim_create_service()
    _shim_update_service()
    _shim_fargate_memory()
    _shim_eni_dns_name()
    _shim_task_fields()
    _shim_tag_on_create_authorization()
    _shim_health_check_ranges()
    _applied = True
