"""Restore: the dev stack in a snapshot's shape, through the AWS APIs like any other change.

The order is the order of dependence: the code locations (repositories rebuilt from their
recorded commits), secrets, roles, then each service's task definition, deployment settings and
scaling, then the DAG deployment each location serves. What restore leaves as it is — the
local stack's own images, wiring and deployment percentages — is what ``compare`` still reports
afterwards, each a declared difference of the local stack (docs/snapshots.md).
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repository_manager.dags import status
from repository_manager.dags.publish import publish
from repository_manager.repos import git, manager, resources
from repository_manager.repos.batch import add_configs
from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import RepoError
from repository_manager.snapshot.model import (
    LocationShape,
    ServiceShape,
    Snapshot,
    SnapshotError,
    secret_arn,
)
from repository_manager.snapshot.parity import LOCAL_WIRING, Difference, compare, fields
from repository_manager.snapshot.restore_iam import restore_role, restore_secrets
from repository_manager.snapshot.source import SnapshotSource
from repository_manager.snapshot.translate import Translator, port_map

Progress = Callable[[str], None]
SERVED_TIMEOUT_S = 180.0
REGISTRABLE_KEYS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "volumes",
)
"""What DescribeTaskDefinition returns that RegisterTaskDefinition takes back."""


def registry_configs(snapshot: Snapshot) -> list[RepoConfig]:
    """The snapshot's repositories, dependencies (``read_from``) first; checked before
    anything starts, so a bad entry changes nothing."""
    configs: dict[str, RepoConfig] = {}
    for location in snapshot.locations:
        if location.registry is None:
            continue
        try:
            config = RepoConfig.model_validate(
                {**location.registry, "image": None, "grpc_port": None}
            )
        except ValueError as error:
            raise SnapshotError(
                f"the snapshot's registry entry of {location.name} is not valid here: {error}"
            ) from None
        configs[config.name] = config
    ordered: list[RepoConfig] = []
    while configs:
        ready = [c for c in configs.values() if all(r not in configs for r in c.read_from)]
        if not ready:
            raise SnapshotError(f"the snapshot's read_from loop: {', '.join(sorted(configs))}")
        for config in ready:
            ordered.append(configs.pop(config.name))
    return ordered


def check_reachable(configs: list[RepoConfig]) -> None:
    for config in configs:
        try:
            git.remote_head(config.git_url, config.branch)
        except RepoError as error:
            raise SnapshotError(f"cannot restore {config.name}: {error}") from None


def restore(
    snapshot: Snapshot,
    source: SnapshotSource,
    target: manager.RepoTarget,
    progress: Progress,
    settle: Callable[[], None] = lambda: None,
) -> list[Difference]:
    """Makes the environment ``source`` reads match ``snapshot``; returns what still differs,
    read once ``settle`` returns (Dagster answering again after its services rolled)."""
    configs = registry_configs(snapshot)
    check_reachable(configs)
    _restore_locations(snapshot, configs, target, progress)
    local = source.snapshot()
    translate = Translator.between(snapshot, local)
    client = target.client
    restore_secrets(client("secretsmanager"), snapshot, local, translate, progress)
    for role in snapshot.roles:
        restore_role(client("iam"), role, translate, local.environment.account, progress)
    ecs = client("ecs")
    ours = {s.name: s for s in local.services}
    theirs, mine = fields(snapshot), fields(local)
    rolled = []
    for service in snapshot.services:
        here = ours.get(service.name)
        if here is None:
            progress(f"service {service.name}: not in this stack (restore adds only repositories)")
            continue
        if _service_fields(theirs, service.name) == _service_fields(mine, service.name):
            continue
        _restore_service(ecs, local.environment.cluster, service, here, translate)
        _restore_scaling(
            client("application-autoscaling"), local.environment.cluster, service, translate
        )
        rolled.append(service.name)
        progress(f"service {service.name}: task definition and settings as in the snapshot")
    if rolled:
        progress(f"waiting for {', '.join(rolled)} to be stable")
        ecs.get_waiter("services_stable").wait(
            cluster=local.environment.cluster,
            services=rolled,
            WaiterConfig={"Delay": 2, "MaxAttempts": 150},
        )
    settle()
    mine_locations = {loc.name: loc for loc in source.snapshot().locations}
    for location in snapshot.locations:
        present = mine_locations.get(location.name)
        if present is not None and present.dag_release != location.dag_release:
            _restore_dags(target, location, progress)
    return compare(source.snapshot(), snapshot)


def _service_fields(values: dict[str, str], service: str) -> dict[str, str]:
    """The service's fields a restore changes: not the local wiring it keeps, so a service
    that differs only there is not restarted for nothing."""
    prefix = f"service {service} "
    return {k: v for k, v in values.items() if k.startswith(prefix) and not _kept(k)}


def _kept(field: str) -> bool:
    if field.endswith((" command", " entry point", " image")):
        return True
    _, found, variable = field.rpartition(" env ")
    return bool(found) and _is_wiring(variable)


def _restore_locations(
    snapshot: Snapshot, configs: list[RepoConfig], target: manager.RepoTarget, progress: Progress
) -> None:
    registry = target.registry
    wanted = {c.name for c in configs}
    for name in registry.names():
        if name not in wanted:
            progress(f"removing {name}: the snapshot has no such repository")
            manager.remove_repo(target, name, purge=False, progress=progress)
    missing = []
    for config in configs:
        found = registry.get(config.name)
        if found is not None and found[0].commit == config.commit:
            continue
        if found is not None:
            progress(f"removing {config.name}: registered at another commit")
            manager.remove_repo(target, config.name, purge=False, progress=progress)
        progress(f"adding {config.name} at {(config.commit or config.branch)[:12]}")
        missing.append(config)
    add_configs(target, missing, progress)


def _restore_service(
    ecs: Any, cluster: str, service: ServiceShape, here: ServiceShape, translate: Translator
) -> None:
    (live,) = ecs.describe_services(cluster=cluster, services=[service.name])["services"]
    current = ecs.describe_task_definition(taskDefinition=live["taskDefinition"])["taskDefinition"]
    spec = {key: current[key] for key in REGISTRABLE_KEYS if key in current}
    shape = service.task_definition
    ports = port_map(
        [p for c in shape.containers for p in c.ports],
        [p for c in here.task_definition.containers for p in c.ports],
    )
    for key, value in (("cpu", shape.cpu), ("memory", shape.memory)):
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    spec["runtimePlatform"] = {
        **spec.get("runtimePlatform", {}),
        "cpuArchitecture": shape.cpu_architecture,
    }
    for key, arn in (("taskRoleArn", shape.task_role), ("executionRoleArn", shape.execution_role)):
        if arn is None:
            spec.pop(key, None)
        else:
            spec[key] = translate.text(arn)
    containers = {c.name: c for c in shape.containers}
    for container in spec["containerDefinitions"]:
        wanted = containers.get(container["name"])
        if wanted is not None:
            _restore_container(container, wanted, translate, ports)
    registered = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    deployment = live.get("deploymentConfiguration", {})
    ecs.update_service(
        cluster=cluster,
        service=service.name,
        taskDefinition=registered,
        desiredCount=service.desired_count,
        deploymentConfiguration={
            **deployment,
            "deploymentCircuitBreaker": {
                "enable": service.circuit_breaker,
                "rollback": service.rollback,
            },
        },
    )


def _restore_container(
    container: dict[str, Any], wanted: Any, translate: Translator, ports: dict[int, int]
) -> None:
    """The snapshot's environment, secrets' sources, health check and log group. The local
    stack's own wiring stays: its images, its database and workspace variables, the secrets
    it already names (its database password), and its command and entry point (which bind
    this host's ports, on loopback)."""
    local_env = {e["name"]: e.get("value", "") for e in container.get("environment", [])}
    container["environment"] = [
        {
            "name": name,
            "value": local_env[name]
            if name in local_env and _is_wiring(name)
            else translate.text(value, ports),
        }
        for name, value in wanted.environment.items()
    ]
    local_secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    secrets = [
        {"name": name, "valueFrom": local_secrets.get(name) or _secret_source(translate, source)}
        for name, source in wanted.secrets.items()
    ]
    if secrets:
        container["secrets"] = secrets
    else:
        container.pop("secrets", None)
    if wanted.health_check is None:
        container.pop("healthCheck", None)
    else:
        container["healthCheck"] = translate.value(wanted.health_check, ports)
    container["essential"] = wanted.essential
    options = (container.get("logConfiguration") or {}).get("options")
    if options is not None and wanted.log_group:
        options["awslogs-group"] = translate.text(wanted.log_group)


def _is_wiring(name: str) -> bool:
    return name.endswith("_IMAGE") or name in LOCAL_WIRING


def _secret_source(translate: Translator, source: str) -> str:
    arn = secret_arn(source)
    local = translate.extra.get(arn)
    if local is None:
        return translate.text(source)
    return local + source[len(arn) :]


def _restore_scaling(
    autoscaling: Any, cluster: str, service: ServiceShape, translate: Translator
) -> None:
    resource = f"service/{cluster}/{service.name}"
    dimension = resources.DIMENSION
    existing = autoscaling.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=dimension
    ).get("ScalingPolicies", [])
    policies = service.scaling.policies if service.scaling else []
    wanted = {translate.text(p.name): p for p in policies}
    for policy in existing:
        if policy["PolicyName"] not in wanted:
            autoscaling.delete_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace="ecs",
                ResourceId=resource,
                ScalableDimension=dimension,
            )
    if service.scaling is None:
        targets = autoscaling.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[resource], ScalableDimension=dimension
        ).get("ScalableTargets", [])
        if targets:
            autoscaling.deregister_scalable_target(
                ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=dimension
            )
        return
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension=dimension,
        MinCapacity=service.scaling.min_capacity,
        MaxCapacity=service.scaling.max_capacity,
    )
    for name, policy in wanted.items():
        autoscaling.put_scaling_policy(
            PolicyName=name,
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension=dimension,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": policy.target,
                "PredefinedMetricSpecification": {"PredefinedMetricType": policy.metric},
            },
        )


def _restore_dags(target: manager.RepoTarget, location: LocationShape, progress: Progress) -> None:
    if not location.dag_files:
        progress(
            f"location {location.name}: the snapshot serves the image's own DAGs, this stack a "
            "deployment; restore cannot deploy an image's tree (start from a fresh `make dev`)"
        )
        return
    s3, ecs = target.client("s3"), target.client("ecs")
    bucket, cluster = target.platform.bucket, target.platform.cluster
    with tempfile.TemporaryDirectory(prefix="restore-dags-") as folder:
        files: dict[str, Path] = {}
        for entry in location.dag_files:
            path = Path(folder) / entry.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(entry.content))
            files[entry.path] = path
        published = publish(s3, bucket, location.name, files, commit=location.git_commit)
    deployment = published.deployment
    progress(f"location {location.name}: deployment {deployment.id} holds the snapshot's DAGs")
    seconds = status.wait_served(
        s3, ecs, bucket, cluster, location.name, deployment.id, SERVED_TIMEOUT_S
    )
    progress(f"location {location.name}: served in {seconds:.1f} s")
