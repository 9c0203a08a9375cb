"""Deploys the platform's ECS services: the same calls against the emulator and against AWS.

A deploy registers a task definition revision only when the rendered definition changed,
creates missing services (code locations first, each registered in Cloud Map), rolls changed
ones with ``UpdateService`` and waits until every service is stable. What differs between the
laptop and AWS is only the endpoint, the credentials and the :class:`Platform` values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repository_manager.infra.task_definitions import render_task_definition

WEBSERVER = "webserver"
DAEMON = "daemon"


@dataclass(frozen=True)
class Platform:
    """Everything a deploy needs to know about the infrastructure it deploys into."""

    stack_name: str
    cluster: str
    region: str
    image: str
    bucket: str
    execution_role_arn: str
    webserver_role_arn: str
    daemon_role_arn: str
    location_role_arns: dict[str, str]
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_secret_arn: str
    namespace: str
    subnets: list[str]
    security_groups: list[str]
    webserver_port: int = 3000
    grpc_port: int = 4000
    workspace_file: str = "/opt/dagster/dagster_home/workspace.yaml"
    cpu: int = 256
    memory: int = 512
    assign_public_ip: bool = False
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200


@dataclass(frozen=True)
class ServiceSpec:
    service: str
    template: str
    variables: dict[str, str]
    cloud_map_name: str | None = None
    desired_count: int = 1


@dataclass
class DeployResult:
    service: str
    task_definition: str
    action: str
    events: list[str] = field(default_factory=list)


def log_group(platform: Platform, component: str) -> str:
    return f"/{platform.stack_name}/{component}"


def _common(platform: Platform) -> dict[str, str]:
    return {
        "image": platform.image,
        "execution_role_arn": platform.execution_role_arn,
        "bucket": platform.bucket,
        "db_host": platform.db_host,
        "db_port": str(platform.db_port),
        "db_name": platform.db_name,
        "db_user": platform.db_user,
        "db_secret_arn": platform.db_secret_arn,
        "service_namespace": platform.namespace,
        "region": platform.region,
        "cpu": str(platform.cpu),
        "memory": str(platform.memory),
        "workspace_file": platform.workspace_file,
        "webserver_port": str(platform.webserver_port),
        "grpc_port": str(platform.grpc_port),
    }


def service_specs(platform: Platform) -> list[ServiceSpec]:
    """Code locations first: the webserver and daemon render their workspace from Cloud Map."""
    common = _common(platform)
    specs = [
        ServiceSpec(
            service=f"cl-{name}",
            template="code_location",
            variables={
                **common,
                "family": f"{platform.stack_name}-cl-{name}",
                "task_role_arn": role_arn,
                "module_name": "dagster_code.definitions",
                "repo_name": name,
                "dags_dir": f"dags/{name}",
                "log_group": log_group(platform, f"code-locations/{name}"),
            },
            cloud_map_name=name,
        )
        for name, role_arn in sorted(platform.location_role_arns.items())
    ]
    for component, role_arn in (
        (WEBSERVER, platform.webserver_role_arn),
        (DAEMON, platform.daemon_role_arn),
    ):
        specs.append(
            ServiceSpec(
                service=component,
                template=component,
                variables={
                    **common,
                    "family": f"{platform.stack_name}-{component}",
                    "task_role_arn": role_arn,
                    "log_group": log_group(platform, component),
                },
            )
        )
    return specs


_COMPARED = ("containerDefinitions", "cpu", "memory", "taskRoleArn", "executionRoleArn")


def _covers(existing: Any, wanted: Any) -> bool:
    """Whether ``existing`` holds everything ``wanted`` says (ECS fills in defaults we never set,
    such as ``volumesFrom: []``, so equality would see a change on every deploy)."""
    if isinstance(wanted, dict):
        return isinstance(existing, dict) and all(
            _covers(existing.get(key), value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(wanted)
            and all(_covers(e, w) for e, w in zip(existing, wanted, strict=True))
        )
    return bool(existing == wanted)


def _same_definition(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(_covers(existing.get(key), wanted.get(key)) for key in _COMPARED)


def register_if_changed(ecs: Any, definition: dict[str, Any]) -> tuple[str, bool]:
    """The ARN of a revision equal to ``definition``, registering one only when none is."""
    try:
        latest = ecs.describe_task_definition(taskDefinition=definition["family"])["taskDefinition"]
    except ecs.exceptions.ClientException:
        latest = None
    if (
        latest is not None
        and latest.get("status") == "ACTIVE"
        and _same_definition(latest, definition)
    ):
        return str(latest["taskDefinitionArn"]), False
    registered = ecs.register_task_definition(**definition)["taskDefinition"]
    return str(registered["taskDefinitionArn"]), True


def ensure_cloud_map_service(cloudmap: Any, namespace: str, name: str) -> str:
    namespaces = cloudmap.list_namespaces()["Namespaces"]
    match = next((n for n in namespaces if n["Name"] == namespace), None)
    if match is None:
        raise LookupError(f"Cloud Map namespace {namespace!r} not found; run `make dev` first")
    services = cloudmap.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [match["Id"]], "Condition": "EQ"}]
    )["Services"]
    existing = next((s for s in services if s["Name"] == name), None)
    if existing is not None:
        return str(existing["Arn"])
    created = cloudmap.create_service(
        Name=name,
        NamespaceId=match["Id"],
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )
    return str(created["Service"]["Arn"])


def _current_service(ecs: Any, cluster: str, name: str) -> dict[str, Any] | None:
    found = ecs.describe_services(cluster=cluster, services=[name])["services"]
    active = [s for s in found if s.get("status") == "ACTIVE"]
    return active[0] if active else None


def apply_service(
    ecs: Any,
    platform: Platform,
    spec: ServiceSpec,
    task_definition: str,
    registry_arn: str | None,
) -> str:
    current = _current_service(ecs, platform.cluster, spec.service)
    if current is None:
        ecs.create_service(
            cluster=platform.cluster,
            serviceName=spec.service,
            taskDefinition=task_definition,
            desiredCount=spec.desired_count,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": platform.subnets,
                    "securityGroups": platform.security_groups,
                    "assignPublicIp": "ENABLED" if platform.assign_public_ip else "DISABLED",
                }
            },
            deploymentConfiguration={
                "minimumHealthyPercent": platform.minimum_healthy_percent,
                "maximumPercent": platform.maximum_percent,
            },
            serviceRegistries=[{"registryArn": registry_arn}] if registry_arn else [],
        )
        return "created"
    if current["taskDefinition"] != task_definition:
        ecs.update_service(
            cluster=platform.cluster, service=spec.service, taskDefinition=task_definition
        )
        return "updated"
    return "unchanged"


def is_stable(service: dict[str, Any]) -> bool:
    deployments = service.get("deployments", [])
    return (
        len(deployments) == 1
        and service["runningCount"] == service["desiredCount"]
        and deployments[0].get("rolloutState", "COMPLETED") == "COMPLETED"
    )


def wait_stable(
    ecs: Any,
    cluster: str,
    services: list[str],
    *,
    timeout: float,
    on_stable: Callable[[str], None] = lambda _: None,
    failed: Callable[[], str | None] = lambda: None,
) -> None:
    pending = list(services)
    deadline = time.monotonic() + timeout
    while pending:
        described = ecs.describe_services(cluster=cluster, services=pending)["services"]
        for service in described:
            if is_stable(service):
                pending.remove(service["serviceName"])
                on_stable(service["serviceName"])
        if not pending:
            return
        if (reason := failed()) is not None:
            raise RuntimeError(reason)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"services not stable after {timeout:.0f} s: {', '.join(pending)}; "
                "see `dagster-ecs logs SERVICE`"
            )
        time.sleep(0.25)


def deploy(
    ecs: Any,
    cloudmap: Any,
    platform: Platform,
    *,
    timeout: float = 180.0,
    progress: Callable[[str], None] = lambda _: None,
    failed: Callable[[], str | None] = lambda: None,
    before_dependents: Callable[[], object] = lambda: None,
) -> list[DeployResult]:
    """Deploys every service in dependency order and waits for each group to be stable.

    ``before_dependents`` runs once the code locations are deployed, before the webserver and
    daemon (which need them, and the database) are.
    """
    results: list[DeployResult] = []
    specs = service_specs(platform)
    groups = [
        [s for s in specs if s.cloud_map_name is not None],
        [s for s in specs if s.cloud_map_name is None],
    ]
    for index, group in enumerate(groups):
        if index == 1:
            before_dependents()
        for spec in group:
            definition = render_task_definition(spec.template, spec.variables)
            arn, registered = register_if_changed(ecs, definition)
            registry = (
                ensure_cloud_map_service(cloudmap, platform.namespace, spec.cloud_map_name)
                if spec.cloud_map_name
                else None
            )
            action = apply_service(ecs, platform, spec, arn, registry)
            revision = arn.rsplit(":", 1)[-1]
            progress(
                f"{spec.service}: {action} (task definition {definition['family']}:{revision}"
                + (", new revision" if registered else "")
                + ")"
            )
            results.append(DeployResult(spec.service, arn, action))
        wait_stable(
            ecs,
            platform.cluster,
            [s.service for s in group],
            timeout=timeout,
            on_stable=lambda name: progress(f"{name}: running"),
            failed=failed,
        )
    return results
