"""Takes a snapshot: the ECS services and their task definitions, scaling and Cloud Map names,
the roles those task definitions name, and per code location its registry entry, image and the
DAG deployment its tasks serve (manifest and files). Reads only."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from dagster_code.dags_sync.manifest import (
    IMAGE_DEPLOYMENT,
    Deployment,
    SyncStatus,
    deployment_id_of,
    deployment_key,
    deployments_prefix,
    file_key,
    status_key,
)
from repository_manager.repos.config import RepoConfig
from repository_manager.repos.registry import config_key
from repository_manager.snapshot.instance import read_instance
from repository_manager.snapshot.model import (
    ContainerShape,
    DagFile,
    EnvironmentShape,
    LocationShape,
    RoleShape,
    RunShape,
    ScalingPolicyShape,
    ScalingShape,
    ServiceShape,
    Snapshot,
    SnapshotError,
    TaskDefinitionShape,
)
from repository_manager.snapshot.reader import Reader, policy_document
from repository_manager.snapshot.runs import read_run

LOCATION_PREFIX = "cl-"


def take(
    reader: Reader,
    *,
    region: str,
    cluster: str,
    bucket: str,
    endpoint: str | None,
    webserver_url: str | None = None,
    run_id: str | None = None,
) -> Snapshot:
    """``webserver_url``: the environment's Dagster, read for the instance, each location's
    Dagster versions and, with ``run_id``, the run the snapshot holds."""
    arns = reader.pages("ecs", "ListServices", "serviceArns", cluster=cluster)
    if not arns:
        raise SnapshotError(
            f"environment {reader.env} has no ECS services in cluster {cluster}: "
            "is it deployed? (`make infra-apply`, or `make dev`)"
        )
    described: list[dict[str, Any]] = []
    for start in range(0, len(arns), 10):
        chunk = reader.call(
            "ecs", "DescribeServices", cluster=cluster, services=arns[start : start + 10]
        )
        described.extend(chunk.get("services", []))
    services = sorted(
        (_service(reader, cluster, s) for s in described if s.get("status") == "ACTIVE"),
        key=lambda s: s.name,
    )
    role_arns = sorted(
        {
            arn
            for s in services
            for arn in (s.task_definition.task_role, s.task_definition.execution_role)
            if arn
        }
    )
    locations = [
        _location(reader, cluster, bucket, s)
        for s in services
        if s.name.startswith(LOCATION_PREFIX)
    ]
    instance = None
    if webserver_url is not None:
        instance, versions = read_instance(webserver_url, reader.env)
        locations = [
            loc.model_copy(update={"dagster_versions": versions.get(loc.name)}) for loc in locations
        ]
    if run_id is not None and webserver_url is None:
        raise SnapshotError(
            f"a run of environment {reader.env} is read from its Dagster webserver: "
            "pass --webserver-url (the load balancer's URL)"
        )
    shape = _run(reader, bucket, run_id, webserver_url) if run_id and webserver_url else None
    if shape is not None:
        commits = {loc.name: loc.git_commit for loc in locations}
        shape = shape.model_copy(update={"git_commit": commits.get(shape.location)})
    return Snapshot(
        taken_at=datetime.now(UTC),
        tool_version=version("dagster-ecs"),
        environment=EnvironmentShape(
            name=reader.env,
            region=region,
            account=arns[0].split(":")[4],
            cluster=cluster,
            bucket=bucket,
            endpoint=endpoint,
        ),
        services=services,
        roles=[_role(reader, arn) for arn in role_arns],
        locations=locations,
        instance=instance,
        run=shape,
    )


def _run(reader: Reader, bucket: str, run_id: str, webserver_url: str) -> RunShape:
    shape = read_run(webserver_url, run_id, reader.env)
    if shape.dag_deployment == IMAGE_DEPLOYMENT or not shape.dag_deployment.isdigit():
        return shape
    deployment = _deployment(reader, bucket, shape.location, shape.dag_deployment)
    return shape.model_copy(
        update={"dag_release": deployment.content_hash() if deployment else None}
    )


def _service(reader: Reader, cluster: str, service: dict[str, Any]) -> ServiceShape:
    definition = reader.call(
        "ecs", "DescribeTaskDefinition", taskDefinition=service["taskDefinition"]
    )["taskDefinition"]
    deployment = service.get("deploymentConfiguration", {})
    breaker = deployment.get("deploymentCircuitBreaker", {})
    return ServiceShape(
        name=service["serviceName"],
        desired_count=int(service.get("desiredCount", 0)),
        launch_type=service.get("launchType"),
        minimum_healthy_percent=deployment.get("minimumHealthyPercent"),
        maximum_percent=deployment.get("maximumPercent"),
        circuit_breaker=bool(breaker.get("enable", False)),
        rollback=bool(breaker.get("rollback", False)),
        cloud_map=[
            _registry_name(reader, r["registryArn"]) for r in service.get("serviceRegistries", [])
        ],
        scaling=_scaling(reader, f"service/{cluster}/{service['serviceName']}"),
        task_definition=_task_definition(definition),
    )


def _task_definition(definition: dict[str, Any]) -> TaskDefinitionShape:
    return TaskDefinitionShape(
        family=definition["family"],
        revision=int(definition["revision"]),
        cpu=definition.get("cpu"),
        memory=definition.get("memory"),
        cpu_architecture=definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64"),
        network_mode=definition.get("networkMode"),
        task_role=definition.get("taskRoleArn"),
        execution_role=definition.get("executionRoleArn"),
        containers=[_container(c) for c in definition.get("containerDefinitions", [])],
    )


def _container(container: dict[str, Any]) -> ContainerShape:
    logs = container.get("logConfiguration") or {}
    return ContainerShape(
        name=container["name"],
        image=container["image"],
        command=list(container.get("command") or []),
        entry_point=list(container.get("entryPoint") or []),
        environment={e["name"]: str(e.get("value", "")) for e in container.get("environment", [])},
        secrets={s["name"]: s["valueFrom"] for s in container.get("secrets", [])},
        ports=sorted(int(p["containerPort"]) for p in container.get("portMappings", [])),
        health_check=container.get("healthCheck"),
        essential=bool(container.get("essential", True)),
        log_group=(logs.get("options") or {}).get("awslogs-group"),
    )


def _registry_name(reader: Reader, registry_arn: str) -> str:
    service_id = registry_arn.rsplit("/", 1)[-1]
    service = reader.call("servicediscovery", "GetService", Id=service_id)["Service"]
    namespace = reader.call("servicediscovery", "GetNamespace", Id=service["NamespaceId"])
    return f"{namespace['Namespace']['Name']}/{service['Name']}"


def _scaling(reader: Reader, resource_id: str) -> ScalingShape | None:
    targets = reader.call(
        "application-autoscaling",
        "DescribeScalableTargets",
        ServiceNamespace="ecs",
        ResourceIds=[resource_id],
        ScalableDimension="ecs:service:DesiredCount",
    ).get("ScalableTargets", [])
    if not targets:
        return None
    policies = reader.call(
        "application-autoscaling",
        "DescribeScalingPolicies",
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
    ).get("ScalingPolicies", [])
    shapes = []
    for policy in policies:
        tracking = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        metric = tracking.get("PredefinedMetricSpecification", {}).get(
            "PredefinedMetricType", "custom"
        )
        shapes.append(
            ScalingPolicyShape(
                name=policy["PolicyName"],
                metric=metric,
                target=float(tracking.get("TargetValue", 0)),
            )
        )
    return ScalingShape(
        min_capacity=int(targets[0]["MinCapacity"]),
        max_capacity=int(targets[0]["MaxCapacity"]),
        policies=sorted(shapes, key=lambda p: p.name),
    )


def _role(reader: Reader, arn: str) -> RoleShape:
    name = arn.rsplit("/", 1)[-1]
    role = reader.call("iam", "GetRole", RoleName=name)["Role"]
    inline = {
        policy: policy_document(
            reader.call("iam", "GetRolePolicy", RoleName=name, PolicyName=policy)["PolicyDocument"]
        )
        for policy in sorted(reader.pages("iam", "ListRolePolicies", "PolicyNames", RoleName=name))
    }
    attached: dict[str, dict[str, Any]] = {}
    for policy in reader.pages(
        "iam", "ListAttachedRolePolicies", "AttachedPolicies", RoleName=name
    ):
        details = reader.call("iam", "GetPolicy", PolicyArn=policy["PolicyArn"])["Policy"]
        document = reader.call(
            "iam",
            "GetPolicyVersion",
            PolicyArn=policy["PolicyArn"],
            VersionId=details["DefaultVersionId"],
        )["PolicyVersion"]["Document"]
        attached[policy["PolicyName"]] = policy_document(document)
    return RoleShape(
        name=name,
        arn=arn,
        trust=policy_document(role["AssumeRolePolicyDocument"]),
        inline=inline,
        attached=dict(sorted(attached.items())),
    )


def _location(reader: Reader, cluster: str, bucket: str, service: ServiceShape) -> LocationShape:
    name = service.name.removeprefix(LOCATION_PREFIX)
    registered = reader.object_text(bucket, config_key(name))
    config = RepoConfig.from_yaml(registered.decode()) if registered is not None else None
    served, reporters = _served(reader, cluster, bucket, name)
    deployment = _deployment(reader, bucket, name, served)
    image = service.task_definition.containers[0].image
    return LocationShape(
        name=name,
        image=image,
        git_commit=(config.commit if config else None)
        or (deployment.git_commit if deployment else None),
        registry=config.model_dump(mode="json", exclude_none=True) if config else None,
        dag_deployment=IMAGE_DEPLOYMENT if deployment is None else str(deployment.id),
        served_by=reporters,
        dag_release=deployment.content_hash() if deployment else None,
        dag_files=_files(reader, bucket, name, deployment) if deployment else [],
    )


def _served(
    reader: Reader, cluster: str, bucket: str, location: str
) -> tuple[str | None, list[str]]:
    """The deployment every reporting task serves; with none reporting, the newest one."""
    arns = reader.call(
        "ecs",
        "ListTasks",
        cluster=cluster,
        serviceName=f"{LOCATION_PREFIX}{location}",
        desiredStatus="RUNNING",
    ).get("taskArns", [])
    reports: list[SyncStatus] = []
    for arn in arns:
        found = reader.object_text(bucket, status_key(location, arn.rsplit("/", 1)[-1]))
        if found is not None:
            reports.append(SyncStatus.model_validate_json(found))
    served = {report.deployment for report in reports}
    if len(served) == 1:
        return served.pop(), sorted(report.task_id for report in reports)
    keys = reader.pages(
        "s3", "ListObjectsV2", "Contents", Bucket=bucket, Prefix=deployments_prefix(location)
    )
    ids = sorted(i for i in (deployment_id_of(k["Key"]) for k in keys) if i is not None)
    return (str(ids[-1]) if ids else None), []


def _deployment(
    reader: Reader, bucket: str, location: str, served: str | None
) -> Deployment | None:
    if served is None or served == IMAGE_DEPLOYMENT:
        return None
    body = reader.object_text(bucket, deployment_key(location, int(served)))
    if body is None:
        raise SnapshotError(
            f"location {location} serves DAG deployment {served}, whose manifest is gone from "
            f"s3://{bucket}/{deployments_prefix(location)}"
        )
    return Deployment.model_validate_json(body)


def _files(reader: Reader, bucket: str, location: str, deployment: Deployment) -> list[DagFile]:
    files = []
    for entry in sorted(deployment.files, key=lambda e: e.path):
        body = reader.object_text(bucket, file_key(location, entry.path), entry.version_id)
        if body is None or hashlib.sha256(body).hexdigest() != entry.sha256:
            raise SnapshotError(
                f"DAG file {entry.path} of {location}'s deployment {deployment.id} is missing or "
                "changed in the bucket (its version is gone); deploy the DAGs again"
            )
        files.append(
            DagFile(path=entry.path, sha256=entry.sha256, content=base64.b64encode(body).decode())
        )
    return files
