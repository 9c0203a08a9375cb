"""The local counterpart of ``tofu apply``: the platform image, roles and network in the emulator.

``make dev`` then deploys with the same :mod:`repository_manager.deploy` code as AWS; only the
:class:`~repository_manager.deploy.Platform` values come from here instead of tofu's outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3

from dagster_ecs_emulator import postgres
from dagster_ecs_emulator.seed import ensure_role
from repository_manager import credentials, iam, instance_config
from repository_manager.deploy import CODE_LOCATION, DAEMON, WEBSERVER, CodeLocation, Platform
from repository_manager.settings import (
    CLUSTER_NAME,
    LOCAL_BUCKET,
    MAIN_LOCATION,
    NAMESPACE_NAME,
    POSTGRES_SECRET_NAME,
    REGION,
    STACK_TAG,
    StackSettings,
)

STACK_NAME = "dagster-ecs"
PLATFORM_IMAGE = "dagster-ecs:local"
PLATFORM_IMAGE_PATTERN = "dagster-ecs:*"
LOCAL_HEALTH_CHECK_INTERVAL = 5
"""ECS's shortest health check interval: a rolled code location is healthy 5 s after start."""


def ecs_state_dir(settings: StackSettings) -> Path:
    return settings.state_dir / "ecs"


def images_file(settings: StackSettings) -> Path:
    return ecs_state_dir(settings) / "images.json"


def build_platform_image(settings: StackSettings) -> None:
    """What ``docker build`` does for the platform image, for the local image store.

    The image is the project's virtualenv with the same ENV and ENTRYPOINT as
    ``docker/Dockerfile``: a Dagster home holding the instance's ``dagster.yaml``, and the
    entrypoint that renders the workspace from Cloud Map.
    """
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(
        instance_config.to_yaml(instance_config.instance_config())
    )
    image = {
        "pattern": PLATFORM_IMAGE_PATTERN,
        "root": sys.prefix,
        **platform_image_config(settings),
        "workingDirectory": str(settings.root),
    }
    images_file(settings).parent.mkdir(parents=True, exist_ok=True)
    images_file(settings).write_text(json.dumps({"images": [image]}, indent=2))


def platform_image_config(settings: StackSettings) -> dict[str, Any]:
    """The platform image's ENV and ENTRYPOINT (docker/Dockerfile's), which every repository's
    image inherits: a repository's image is built on the platform image."""
    return {
        "env": {
            "DAGSTER_HOME": str(settings.dagster_home),
            "PYTHONUNBUFFERED": "1",
            # Tags every task process of this stack, so `make stop` can prove none is left.
            STACK_TAG: str(settings.state_dir),
            # Tasks share the host here: a wildcard bind becomes the task's own address.
            "DAGSTER_ECS_BIND_TASK_ADDRESS": "1",
        },
        "entryPoint": [str(settings.root / "docker" / "entrypoint.sh")],
    }


def emulator_client(settings: StackSettings, service: str) -> Any:
    """A boto3 client of the local stack's emulator, signed as its administrator."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=settings.emulator_url,
        region_name=REGION,
        **credentials.for_stack(settings).client_kwargs(),
    )


def _network(settings: StackSettings) -> tuple[list[str], list[str]]:
    ec2 = emulator_client(settings, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )
    return (
        sorted(s["SubnetId"] for s in subnets["Subnets"])[:2],
        [g["GroupId"] for g in groups["SecurityGroups"]],
    )


def db_secret_arn(settings: StackSettings) -> str:
    secret = emulator_client(settings, "secretsmanager").describe_secret(
        SecretId=POSTGRES_SECRET_NAME
    )
    return str(secret["ARN"])


def location_role_pattern(any_role_arn: str) -> str:
    """Every code location's task role (``{stack}-cl-{name}``), present and future: the daemon
    passes a location's role to each of its runs (EcsRunLauncher), and add-repo adds roles."""
    account = any_role_arn.split(":")[4]
    return f"arn:aws:iam::{account}:role/{STACK_NAME}-cl-*"


def local_platform(
    settings: StackSettings,
    db_secret_arn: str,
    image: str = PLATFORM_IMAGE,
    *,
    apply_roles: bool = True,
) -> Platform:
    """The platform the dev stack runs. ``apply_roles``: create the platform's roles or put
    their policies back to the platform's own (stack start, `make deploy`); otherwise the roles
    are only looked up, so a repository command never undoes a change to a role's policy."""
    cluster_arn = emulator_client(settings, "ecs").describe_clusters(clusters=[CLUSTER_NAME])[
        "clusters"
    ][0]["clusterArn"]

    iam_client = emulator_client(settings, "iam")

    def role(name: str, policy: dict[str, Any]) -> str:
        if not apply_roles:
            return str(iam_client.get_role(RoleName=f"{STACK_NAME}-{name}")["Role"]["Arn"])
        return ensure_role(iam_client, f"{STACK_NAME}-{name}", iam.ECS_TASKS_TRUST, policy)

    location_roles = {
        MAIN_LOCATION: role(
            f"cl-{MAIN_LOCATION}", iam.code_location_policy(LOCAL_BUCKET, MAIN_LOCATION)
        )
    }
    subnets, security_groups = _network(settings)
    execution = role("execution", iam.execution_policy(db_secret_arn))
    webserver = role("webserver", iam.webserver_policy(LOCAL_BUCKET))
    daemon = role(
        "daemon",
        iam.daemon_policy(LOCAL_BUCKET, cluster_arn, [execution, location_role_pattern(execution)]),
    )
    return Platform(
        stack_name=STACK_NAME,
        cluster=CLUSTER_NAME,
        region=REGION,
        image=image,
        bucket=LOCAL_BUCKET,
        execution_role_arn=execution,
        webserver_role_arn=webserver,
        daemon_role_arn=daemon,
        code_locations={name: CodeLocation(role_arn=arn) for name, arn in location_roles.items()},
        db_host=settings.host,
        db_port=settings.ports.postgres,
        db_name=postgres.DB_NAME,
        db_user=postgres.DB_USER,
        db_secret_arn=db_secret_arn,
        namespace=NAMESPACE_NAME,
        subnets=subnets,
        security_groups={kind: security_groups for kind in (WEBSERVER, DAEMON, CODE_LOCATION)},
        webserver_port=settings.ports.webserver,
        webserver_host=settings.host,
        workspace_refresh_seconds=2,
        dag_sync_interval=settings.dag_sync_interval,
        health_check_interval=LOCAL_HEALTH_CHECK_INTERVAL,
        grpc_port=settings.ports.code_server,
        workspace_file=str(settings.dagster_home / "workspace.yaml"),
        # Tasks share the host's network here, so a port-bound task must stop before its
        # replacement can bind (on Fargate each task has its own ENI and 100/200 applies).
        minimum_healthy_percent=0,
        maximum_percent=100,
    )
