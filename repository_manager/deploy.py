"""Deploys the platform's ECS services: the same calls against the emulator and against AWS.

A deploy registers a task definition revision only when the rendered definition changed,
creates missing services (code locations first, each registered in Cloud Map), rolls changed
ones with ``UpdateService`` and waits until every service is stable. What differs between the
laptop and AWS is only the endpoint, the credentials and the :class:`Platform` values: built by
``make dev`` for its own stack, read from tofu's ``deploy`` output for an applied environment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repository_manager.infra.task_definitions import render_task_definition

WEBSERVER = "webserver"
DAEMON = "daemon"
CODE_LOCATION = "code_location"
DEFAULT_MODULE = "dagster_code.definitions"
CONTAINER_CONTEXT = "DAGSTER_CONTAINER_CONTEXT"


class DeployError(RuntimeError):
    """A one-line reason why nothing was deployed, saying what to do."""


@dataclass(frozen=True)
class CodeLocation:
    """One code location service; ``None`` fields take the platform's value."""

    role_arn: str
    image: str | None = None
    module_name: str = DEFAULT_MODULE
    dags_dir: str | None = None
    definitions: str = f"module:{DEFAULT_MODULE}"
    """An external repository's own definitions (``module:…`` or ``file:…``), which
    ``dagster_code.repository`` loads; the platform's ``main`` loads its DAG package instead."""
    environment: tuple[tuple[str, str], ...] = ()
    """The repository's own variables (config.yml ``environment``), after the platform's."""
    cpu: int | None = None
    memory: int | None = None
    grpc_port: int | None = None


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
    code_locations: dict[str, CodeLocation]
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_secret_arn: str
    namespace: str
    subnets: list[str]
    security_groups: dict[str, list[str]]
    """Per kind of service: ``webserver``, ``daemon``, ``code_location``."""
    webserver_port: int = 3000
    webserver_host: str = "0.0.0.0"
    """Where the webserver binds in its task: every address of the task's own ENI on Fargate;
    the host's loopback where tasks share one host."""
    workspace_refresh_seconds: int = 10
    """How often the webserver and daemon re-read Cloud Map (DiscoverInstances costs on AWS)."""
    dag_sync_interval: int = 60
    """Seconds between each code location's DAG syncs from S3 (0: serve the image's DAGs)."""
    health_check_interval: int = 30
    """Seconds between a code location container's health checks (ECS allows 5 to 300)."""
    dag_sync_secret_arn: str | None = None
    """A Secrets Manager secret with ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` that
    code location tasks inject for their DAG sync agent alone (tofu's ``dag_sync_uses_s3_user``);
    ``None``: the agent uses the task role, as everything else in the task does."""
    grpc_port: int = 4000
    workspace_file: str = "/opt/dagster/dagster_home/workspace.yaml"
    cpu: int = 256
    memory: int = 512
    assign_public_ip: bool = False
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    creates_services: bool = True
    """False where tofu owns the services: a deploy then only rolls existing ones."""


@dataclass(frozen=True)
class ServiceSpec:
    service: str
    template: str
    variables: dict[str, str]
    security_groups: list[str]
    cloud_map_name: str | None = None
    desired_count: int = 1
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()


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
        "webserver_host": platform.webserver_host,
        "workspace_refresh_seconds": str(platform.workspace_refresh_seconds),
        "dag_sync_interval": str(platform.dag_sync_interval),
        "health_check_interval": str(platform.health_check_interval),
        "grpc_port": str(platform.grpc_port),
    }


def service_specs(platform: Platform) -> list[ServiceSpec]:
    """Code locations first: the webserver and daemon render their workspace from Cloud Map."""
    common = _common(platform)
    specs = [
        ServiceSpec(
            service=f"cl-{name}",
            template=CODE_LOCATION,
            variables={
                **common,
                "family": f"{platform.stack_name}-cl-{name}",
                "image": location.image or platform.image,
                "cpu": str(location.cpu or platform.cpu),
                "memory": str(location.memory or platform.memory),
                "grpc_port": str(location.grpc_port or platform.grpc_port),
                "task_role_arn": location.role_arn,
                "module_name": location.module_name,
                "repo_name": name,
                "dags_dir": location.dags_dir or f"dags/{name}",
                "repo_definitions": location.definitions,
                "log_group": log_group(platform, f"code-locations/{name}"),
            },
            security_groups=platform.security_groups[CODE_LOCATION],
            cloud_map_name=name,
            environment=location.environment,
            secrets=dag_sync_secrets(platform.dag_sync_secret_arn),
        )
        for name, location in sorted(platform.code_locations.items())
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
                security_groups=platform.security_groups[component],
            )
        )
    return specs


def dag_sync_secrets(secret_arn: str | None) -> tuple[tuple[str, str], ...]:
    """What tofu's code_location module appends to the container's secrets for the agent."""
    if secret_arn is None:
        return ()
    return tuple(
        (f"DAG_SYNC_{key}", f"{secret_arn}:{key}::")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    )


def rendered_definition(spec: ServiceSpec) -> dict[str, Any]:
    """The spec's template rendered, with its own variables and secrets after the platform's
    (tofu's code_location module appends the secrets the same way)."""
    definition = render_task_definition(spec.template, spec.variables)
    if spec.secrets:
        container = definition["containerDefinitions"][0]
        extra = [{"name": name, "valueFrom": arn} for name, arn in spec.secrets]
        container["secrets"] = [*container.get("secrets", []), *extra]
    if spec.environment:
        container = definition["containerDefinitions"][0]
        extra = [{"name": name, "value": value} for name, value in spec.environment]
        for entry in container.get("environment", []):
            if entry["name"] == CONTAINER_CONTEXT:
                # Each run task gets the variables too (EcsRunLauncher's container context).
                context = json.loads(entry["value"])
                context["ecs"]["env_vars"] += [f"{e['name']}={e['value']}" for e in extra]
                entry["value"] = json.dumps(context)
        container["environment"] = [*container.get("environment", []), *extra]
    return definition


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
    """Every field we register, tags aside (DescribeTaskDefinition returns them only on request)."""
    return _covers(existing, {key: value for key, value in wanted.items() if key != "tags"})


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
                    "securityGroups": spec.security_groups,
                    "assignPublicIp": "ENABLED" if platform.assign_public_ip else "DISABLED",
                }
            },
            deploymentConfiguration={
                "minimumHealthyPercent": platform.minimum_healthy_percent,
                "maximumPercent": platform.maximum_percent,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
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


def rollout_failure(service: dict[str, Any]) -> str | None:
    """ECS's own verdict on a rollout (the deployment circuit breaker), if it gave up."""
    for deployment in service.get("deployments", []):
        if deployment.get("rolloutState") == "FAILED":
            reason = deployment.get("rolloutStateReason") or "rollout failed"
            return f"{service['serviceName']}: {reason}"
    return None


def rolled_back(service: dict[str, Any], deployed: str) -> str | None:
    """Why a service that looks stable is not on ``deployed``: the circuit breaker rolled it back
    (a FAILED deployment can be gone before a poll sees it; the service's events keep it)."""
    if service["taskDefinition"] == deployed:
        return None
    failure = next(
        (e["message"] for e in service.get("events", []) if "deployment failed" in e["message"]),
        "the deployment did not complete",
    )
    return (
        f"{service['serviceName']}: {failure} It runs {service['taskDefinition']} again, "
        f"not {deployed}"
    )


def wait_stable(
    ecs: Any,
    cluster: str,
    services: list[str],
    *,
    timeout: float,
    deployed: dict[str, str] | None = None,
    on_stable: Callable[[str], None] = lambda _: None,
    failed: Callable[[], str | None] = lambda: None,
) -> None:
    """Waits until each service runs ``deployed[service]`` (if given) at its desired count."""
    pending = list(services)
    deadline = time.monotonic() + timeout
    while pending:
        described = ecs.describe_services(cluster=cluster, services=pending)["services"]
        for service in described:
            name = service["serviceName"]
            if is_stable(service):
                if deployed and (reason := rolled_back(service, deployed[name])) is not None:
                    raise DeployError(f"{reason}; see `dagster-ecs logs {name}`")
                pending.remove(name)
                on_stable(name)
            elif (reason := rollout_failure(service)) is not None:
                raise DeployError(f"{reason}; see `dagster-ecs logs {service['serviceName']}`")
        if not pending:
            return
        if (reason := failed()) is not None:
            raise DeployError(reason)
        if time.monotonic() > deadline:
            raise DeployError(
                f"services not stable after {timeout:.0f} s: {', '.join(pending)}; "
                "see `dagster-ecs logs SERVICE`"
            )
        time.sleep(0.25)


def families(platform: Platform) -> list[str]:
    return [spec.variables["family"] for spec in service_specs(platform)]


def deregister_revisions(ecs: Any, family_names: list[str]) -> int:
    """Deregisters every ACTIVE revision of these families (tofu destroys only its own first
    revision; the ones deploys registered would otherwise stay). Returns how many."""
    count = 0
    for family in family_names:
        pages = ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status="ACTIVE"
        )
        for page in pages:
            for arn in page["taskDefinitionArns"]:
                if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family:
                    ecs.deregister_task_definition(taskDefinition=arn)
                    count += 1
    return count


def deployed_image(ecs: Any, cluster: str) -> str | None:
    """The platform image the webserver service runs now, if it exists."""
    service = _current_service(ecs, cluster, WEBSERVER)
    if service is None:
        return None
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    containers = definition["taskDefinition"]["containerDefinitions"]
    return next((str(c["image"]) for c in containers if c["name"] == WEBSERVER), None)


def check_services_exist(ecs: Any, platform: Platform, specs: list[ServiceSpec]) -> None:
    """Where tofu owns the services, a missing one means an apply is due: change nothing."""
    if platform.creates_services:
        return
    missing = [
        s.service for s in specs if _current_service(ecs, platform.cluster, s.service) is None
    ]
    if missing:
        raise DeployError(
            f"service(s) {', '.join(missing)} not found in cluster {platform.cluster!r}; "
            "create them with `make infra-apply` first (tofu creates services, deploy rolls them)"
        )


def deploy(
    ecs: Any,
    cloudmap: Any,
    platform: Platform,
    *,
    timeout: float = 180.0,
    wait: bool = True,
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
    check_services_exist(ecs, platform, specs)
    groups = [
        [s for s in specs if s.cloud_map_name is not None],
        [s for s in specs if s.cloud_map_name is None],
    ]
    for index, group in enumerate(groups):
        if index == 1:
            before_dependents()
        for spec in group:
            definition = rendered_definition(spec)
            arn, registered = register_if_changed(ecs, definition)
            registry = (
                ensure_cloud_map_service(cloudmap, platform.namespace, spec.cloud_map_name)
                if spec.cloud_map_name and platform.creates_services
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
        if wait:
            wait_stable(
                ecs,
                platform.cluster,
                [s.service for s in group],
                timeout=timeout,
                deployed={r.service: r.task_definition for r in results},
                on_stable=lambda name: progress(f"{name}: running"),
                failed=failed,
            )
    return results
