"""Where ``dagster-ecs deploy`` deploys to: an applied tofu environment, on the emulator or AWS.

Tofu creates the services with their first task definition revisions and publishes, in its
``deploy`` output, every value it rendered them with. The deployer renders the same templates
with the same values (and a new image), so a deploy right after an apply changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from repository_manager.deploy import CodeLocation, DeployError, Platform
from repository_manager.infra import InfraError
from repository_manager.infra.emulator import client
from repository_manager.infra.runner import InfraRunner

_PLATFORM_KEYS = (
    "stack_name",
    "cluster",
    "region",
    "image",
    "bucket",
    "execution_role_arn",
    "webserver_role_arn",
    "daemon_role_arn",
    "db_host",
    "db_name",
    "db_user",
    "db_secret_arn",
    "namespace",
    "workspace_file",
)


def platform_from_outputs(deploy: dict[str, Any]) -> Platform:
    """The :class:`Platform` of tofu's ``deploy`` output (``module.stack.deploy``)."""
    missing = [key for key in (*_PLATFORM_KEYS, "code_locations") if key not in deploy]
    if missing:
        raise DeployError(
            f"tofu's deploy output lacks {', '.join(missing)}; run `make infra-apply` "
            "with this version of infrastructure/"
        )
    text = {key: str(deploy[key]) for key in _PLATFORM_KEYS}
    image = text["image"]
    return Platform(
        stack_name=text["stack_name"],
        cluster=text["cluster"],
        region=text["region"],
        image=image,
        bucket=text["bucket"],
        execution_role_arn=text["execution_role_arn"],
        webserver_role_arn=text["webserver_role_arn"],
        daemon_role_arn=text["daemon_role_arn"],
        db_host=text["db_host"],
        db_name=text["db_name"],
        db_user=text["db_user"],
        db_secret_arn=text["db_secret_arn"],
        namespace=text["namespace"],
        workspace_file=text["workspace_file"],
        db_port=int(deploy["db_port"]),
        subnets=[str(s) for s in deploy["subnets"]],
        security_groups={
            kind: [str(g) for g in groups] for kind, groups in deploy["security_groups"].items()
        },
        code_locations={
            name: CodeLocation(
                role_arn=str(location["role_arn"]),
                image=None if location["image"] == image else str(location["image"]),
                module_name=str(location["module_name"]),
                dags_dir=str(location["dags_dir"]),
                definitions=str(location.get("definitions", "module:dagster_code.definitions")),
                cpu=int(location["cpu"]),
                memory=int(location["memory"]),
                grpc_port=int(location["grpc_port"]),
            )
            for name, location in deploy["code_locations"].items()
        },
        webserver_port=int(deploy["webserver_port"]),
        webserver_host=str(deploy.get("webserver_host", "0.0.0.0")),
        workspace_refresh_seconds=int(deploy.get("workspace_refresh_seconds", 10)),
        dag_sync_interval=int(deploy.get("dag_sync_interval", 60)),
        health_check_interval=int(deploy.get("health_check_interval", 30)),
        dag_sync_secret_arn=deploy.get("dag_sync_secret_arn") or None,
        cpu=int(deploy["cpu"]),
        memory=int(deploy["memory"]),
        assign_public_ip=bool(deploy["assign_public_ip"]),
        creates_services=False,
    )


@dataclass(frozen=True)
class TofuTarget:
    """An applied environment: its platform and API clients for its endpoint."""

    env: str
    platform: Platform
    endpoint_url: str | None

    def client(self, service: str) -> Any:
        if self.endpoint_url is not None:
            return client(service, self.endpoint_url)
        return boto3.client(service, region_name=self.platform.region)  # type: ignore[call-overload]


def tofu_target(runner: InfraRunner) -> TofuTarget:
    """Reads the environment's outputs; ``local`` talks to the emulator, ``aws`` to AWS."""
    env = runner.env
    try:
        if env == "local" and not runner.state_path.is_file():
            raise DeployError(
                "the local tofu environment has no state; create it with `make infra-apply`"
            )
        if not (runner.work_dir / "data").is_dir():
            raise DeployError(
                f"environment {env} is not initialised; run `make infra-init ENV={env}`"
            )
        outputs = runner.outputs()
    except InfraError as error:
        raise DeployError(str(error)) from None
    stack = outputs.get("stack")
    if not isinstance(stack, dict) or "deploy" not in stack:
        raise DeployError(
            f"environment {env} has no applied stack; run `make infra-apply ENV={env}` first"
        )
    target = TofuTarget(
        env, platform_from_outputs(stack["deploy"]), runner.emulator_url if env == "local" else None
    )
    if target.endpoint_url is None:
        check_credentials(target)
    return target


def check_credentials(target: TofuTarget) -> None:
    try:
        target.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError) as error:
        raise DeployError(
            f"no usable AWS credentials ({error}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY for the account the stack lives in"
        ) from None
