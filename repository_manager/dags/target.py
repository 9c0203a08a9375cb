"""The bucket and cluster a DAG command acts on: the dev stack's, or a tofu environment's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repository_manager import environments
from repository_manager.dags.errors import DagsError
from repository_manager.deploy import DeployError
from repository_manager.deploy_targets import tofu_target
from repository_manager.infra import InfraError
from repository_manager.infra.runner import InfraRunner
from repository_manager.settings import CLUSTER_NAME, LOCAL_BUCKET


@dataclass(frozen=True)
class DagsTarget:
    env: str
    bucket: str
    cluster: str
    s3: Any
    ecs: Any


def dags_target(env: str, emulator_url: str | None = None) -> DagsTarget:
    """``emulator_url``: the emulator a ``local`` environment lives in, where it is not the
    running dev stack's own."""
    try:
        environments.check_emulator_url(env, emulator_url)
        if env == "dev":
            environment = environments.resolve("dev")
            return DagsTarget(
                env, LOCAL_BUCKET, CLUSTER_NAME, environment.client("s3"), environment.client("ecs")
            )
        target = tofu_target(InfraRunner(env, emulator_url=emulator_url, stream=False))
    except (environments.TargetError, DeployError, InfraError) as error:
        raise DagsError(str(error)) from None
    return DagsTarget(
        env,
        target.platform.bucket,
        target.platform.cluster,
        target.client("s3"),
        target.client("ecs"),
    )
