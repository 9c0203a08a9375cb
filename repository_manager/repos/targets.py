"""The :class:`~repository_manager.repos.manager.RepoTarget` of each environment.

``dev`` is the `make dev` stack (its stack file, its emulator, its webserver). The tofu
environments read their platform from tofu's outputs, as ``dagster-ecs deploy`` does.
"""

from __future__ import annotations

import functools
from typing import Any

from repository_manager import environments, stackfile
from repository_manager.devstack import local_platform
from repository_manager.repos.errors import RepoError
from repository_manager.repos.manager import RepoTarget
from repository_manager.settings import LOCAL_BUCKET, REGION, StackSettings


def dev_target(settings: StackSettings | None = None) -> RepoTarget:
    settings = settings or StackSettings.from_env()
    try:
        stackfile.require_own(settings)
    except stackfile.StackError as error:
        raise RepoError(str(error)) from None

    @functools.cache
    def client(service: str) -> Any:
        return local_platform.emulator_client(settings, service)

    platform = local_platform.local_platform(settings, local_platform.db_secret_arn(settings))
    return RepoTarget(
        env="dev",
        platform=platform,
        client=client,
        webserver_url=settings.webserver_url,
        work_dir=settings.state_dir / "repos",
        own_ports=True,
        environment={
            "DAGSTER_S3_BUCKET": LOCAL_BUCKET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": settings.emulator_url,
        },
        base_image=local_platform.platform_image_config(settings),
    )


def target_for(env: str) -> RepoTarget:
    try:
        environments.check_name(env)
    except environments.TargetError as error:
        raise RepoError(str(error)) from None
    if env == "dev":
        return dev_target()
    raise RepoError(
        f"repositories on --env {env} are not supported yet: the {env} environment needs the "
        "tofu code_location module to take repository images; use the dev stack (ENV unset)"
    )
