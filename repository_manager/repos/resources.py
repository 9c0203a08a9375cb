"""The AWS resources of one repository's code location, created and deleted through the AWS APIs
only, so the same calls serve the emulator and AWS.

Creation records an undo for every resource it made, so a failed add rolls back exactly what
it created and nothing that existed before. Deletion follows ECS's order (the Dagster+ ECS
agent's too): desired count 0, delete the service, deregister the Cloud Map instances, delete
the Cloud Map service; then the task definitions, scaling, log group and role.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from repository_manager import deploy, iam
from repository_manager.deploy import CodeLocation, Platform
from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import RepoError

Progress = Callable[[str], None]
LOG_RETENTION_DAYS = 14
STOP_WAIT_S = 60.0
DIMENSION = "ecs:service:DesiredCount"


def role_name(platform: Platform, repo: str) -> str:
    return f"{platform.stack_name}-cl-{repo}"


def service_name(repo: str) -> str:
    return f"cl-{repo}"


def log_group_name(platform: Platform, repo: str) -> str:
    return deploy.log_group(platform, f"code-locations/{repo}")


def family(platform: Platform, repo: str) -> str:
    return f"{platform.stack_name}-cl-{repo}"


def scaling_resource_id(platform: Platform, repo: str) -> str:
    return f"service/{platform.cluster}/{service_name(repo)}"


@dataclass
class Undo:
    """What a multi-step operation created, undone in reverse order on failure."""

    steps: list[tuple[str, Callable[[], object]]] = field(default_factory=list)

    def add(self, what: str, undo: Callable[[], object]) -> None:
        self.steps.append((what, undo))

    def run(self, progress: Progress) -> list[str]:
        """Undoes every step; returns the ones that could not be undone (never raises)."""
        failed = []
        for what, undo in reversed(self.steps):
            try:
                undo()
                progress(f"rolled back {what}")
            except Exception as error:
                failed.append(f"{what} ({error})")
        self.steps.clear()
        return failed


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def create_role(iam_client: Any, platform: Platform, config: RepoConfig, undo: Undo) -> str:
    name = role_name(platform, config.name)
    try:
        arn = iam_client.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(iam.ECS_TASKS_TRUST),
            Description=f"Task role of code location {config.name}: repos/{config.name}/ only",
        )["Role"]["Arn"]
    except ClientError as error:
        if _code(error) == "EntityAlreadyExists":
            raise RepoError(
                f"IAM role {name} already exists: another stack or a half-removed repository "
                f"owns it; remove it (`make remove-repo REPO_NAME={config.name}`) first"
            ) from None
        raise
    undo.add(f"role {name}", lambda: delete_role(iam_client, name))
    put_role_policy(iam_client, platform, config)
    return str(arn)


def put_role_policy(iam_client: Any, platform: Platform, config: RepoConfig) -> None:
    iam_client.put_role_policy(
        RoleName=role_name(platform, config.name),
        PolicyName=f"repo-{config.name}",
        PolicyDocument=json.dumps(
            iam.code_location_policy(platform.bucket, config.name, config.read_from)
        ),
    )


def delete_role(iam_client: Any, name: str) -> None:
    try:
        for policy in iam_client.list_role_policies(RoleName=name)["PolicyNames"]:
            iam_client.delete_role_policy(RoleName=name, PolicyName=policy)
        iam_client.delete_role(RoleName=name)
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise


def create_log_group(logs: Any, platform: Platform, repo: str, undo: Undo) -> str:
    name = log_group_name(platform, repo)
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as error:
        if _code(error) != "ResourceAlreadyExistsException":
            raise
        return name
    undo.add(f"log group {name}", lambda: delete_log_group(logs, name))
    logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
    return name


def delete_log_group(logs: Any, name: str) -> None:
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=name)


def find_cloud_map_service(cloudmap: Any, namespace: str, name: str) -> dict[str, Any] | None:
    namespaces = cloudmap.list_namespaces()["Namespaces"]
    match = next((n for n in namespaces if n["Name"] == namespace), None)
    if match is None:
        return None
    services = cloudmap.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [match["Id"]], "Condition": "EQ"}]
    )["Services"]
    return next((s for s in services if s["Name"] == name), None)


def create_cloud_map_service(cloudmap: Any, platform: Platform, repo: str, undo: Undo) -> str:
    if find_cloud_map_service(cloudmap, platform.namespace, repo) is not None:
        raise RepoError(
            f"Cloud Map service {repo!r} already exists in {platform.namespace}; remove the "
            f"repository (`make remove-repo REPO_NAME={repo}`) first"
        )
    arn = deploy.ensure_cloud_map_service(cloudmap, platform.namespace, repo)
    undo.add(
        f"Cloud Map service {repo}", lambda: delete_cloud_map_service(cloudmap, platform, repo)
    )
    return arn


def delete_cloud_map_service(cloudmap: Any, platform: Platform, repo: str) -> None:
    service = find_cloud_map_service(cloudmap, platform.namespace, repo)
    if service is None:
        return
    instances = cloudmap.list_instances(ServiceId=service["Id"])["Instances"]
    for instance in instances:
        cloudmap.deregister_instance(ServiceId=service["Id"], InstanceId=instance["Id"])
    cloudmap.delete_service(Id=service["Id"])


def location_of(config: RepoConfig, role_arn: str, image: str, grpc_port: int) -> CodeLocation:
    definitions = f"file:{config.python_file}" if config.python_file else f"module:{config.module}"
    return CodeLocation(
        role_arn=role_arn,
        image=image,
        module_name="dagster_code.repository",
        dags_dir=config.dags_dir or "dags",
        definitions=definitions,
        cpu=config.resources.cpu,
        memory=config.resources.memory,
        grpc_port=grpc_port,
        environment=tuple((env.name, env.value) for env in config.environment),
    )


def register_task_definition(
    ecs: Any, platform: Platform, repo: str, undo: Undo, *, fresh: bool
) -> str:
    """Registers the location's revision (the code_location template, as ``main``'s)."""
    spec = next(s for s in deploy.service_specs(platform) if s.service == service_name(repo))
    definition = deploy.rendered_definition(spec)
    arn, registered = deploy.register_if_changed(ecs, definition)
    if registered and fresh:
        undo.add(
            f"task definition {definition['family']}",
            lambda: deploy.deregister_revisions(ecs, [definition["family"]]),
        )
    return arn


def create_service(
    ecs: Any,
    platform: Platform,
    config: RepoConfig,
    task_definition: str,
    registry_arn: str,
    undo: Undo,
) -> None:
    spec = next(s for s in deploy.service_specs(platform) if s.service == service_name(config.name))
    spec = deploy.ServiceSpec(
        service=spec.service,
        template=spec.template,
        variables=spec.variables,
        security_groups=spec.security_groups,
        cloud_map_name=spec.cloud_map_name,
        desired_count=config.scaling.min_capacity,
    )
    deploy.apply_service(ecs, platform, spec, task_definition, registry_arn)
    undo.add(f"service {spec.service}", lambda: delete_service(ecs, platform, spec.service))


def delete_service(ecs: Any, platform: Platform, name: str, wait: float = STOP_WAIT_S) -> None:
    """Desired count 0, delete (force), then wait until its tasks have stopped."""
    described = ecs.describe_services(cluster=platform.cluster, services=[name])["services"]
    if not any(s.get("status") == "ACTIVE" for s in described):
        return
    tasks = ecs.list_tasks(cluster=platform.cluster, serviceName=name)["taskArns"]
    ecs.update_service(cluster=platform.cluster, service=name, desiredCount=0)
    ecs.delete_service(cluster=platform.cluster, service=name, force=True)
    deadline = time.monotonic() + wait
    while tasks and time.monotonic() < deadline:
        states = ecs.describe_tasks(cluster=platform.cluster, tasks=tasks)["tasks"]
        if all(task["lastStatus"] == "STOPPED" for task in states):
            return
        time.sleep(0.25)


def create_scaling(autoscaling: Any, platform: Platform, config: RepoConfig, undo: Undo) -> None:
    """A scalable target and CPU/memory target-tracking policies, as tofu's module has them."""
    resource = scaling_resource_id(platform, config.name)
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension=DIMENSION,
        MinCapacity=config.scaling.min_capacity,
        MaxCapacity=config.scaling.max_capacity,
    )
    undo.add(
        f"scaling of {service_name(config.name)}",
        lambda: delete_scaling(autoscaling, platform, config.name),
    )
    for kind, metric, target in (
        ("cpu", "ECSServiceAverageCPUUtilization", config.scaling.cpu_threshold),
        ("memory", "ECSServiceAverageMemoryUtilization", config.scaling.memory_threshold),
    ):
        autoscaling.put_scaling_policy(
            PolicyName=f"{family(platform, config.name)}-{kind}",
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(target),
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
                "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
            },
        )


def delete_scaling(autoscaling: Any, platform: Platform, repo: str) -> None:
    resource = scaling_resource_id(platform, repo)
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
    for policy in policies.get("ScalingPolicies", []):
        autoscaling.delete_scaling_policy(
            PolicyName=policy["PolicyName"],
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
        )
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
    if targets.get("ScalableTargets"):
        autoscaling.deregister_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
        )


def delete_ecr_repository(ecr: Any, name: str) -> None:
    with contextlib.suppress(ecr.exceptions.RepositoryNotFoundException):
        ecr.delete_repository(repositoryName=name, force=True)
