"""The :class:`~repository_manager.repos.manager.RepoTarget` of each environment.

``dev`` is the `make dev` stack (its stack file, its emulator, its webserver). The tofu
environments read their platform from tofu's outputs, as ``dagster-ecs deploy`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from repository_manager import environments, stackfile
from repository_manager.deploy import DeployError
from repository_manager.deploy_targets import tofu_target
from repository_manager.devstack import local_platform
from repository_manager.infra import InfraError
from repository_manager.infra.runner import InfraRunner
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

    platform = local_platform.local_platform(
        settings, local_platform.db_secret_arn(settings), apply_roles=False
    )
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


def tofu_environment_target(env: str, emulator_url: str | None = None) -> RepoTarget:
    """An applied tofu environment: repositories are registered in its bucket and tofu creates
    their locations (``tofu apply`` with the environment's applied variables), so add-repo and
    ``infra plan`` never disagree. ``local`` lives in an emulator whose ECS runtime runs it (the
    dev stack's, or ``emulator_url``'s); its tasks share this host, so each location gets its own
    gRPC port."""
    if env == "aws":
        raise RepoError(
            "repositories on --env aws need the repository image built and pushed to ECR, which "
            "waits for the containers issue; use --env local or the dev stack (ENV unset)"
        )
    runner = InfraRunner(env, emulator_url=emulator_url, stream=False)
    try:
        tofu = tofu_target(runner)
        endpoint = runner.emulator_url
    except (DeployError, InfraError) as error:
        raise RepoError(str(error)) from None
    platform = tofu.platform
    settings = StackSettings.from_env()

    def apply(progress: Callable[[str], None]) -> None:
        progress(f"tofu apply ({env}) from the registry")
        try:
            result = runner.apply()
        except InfraError as error:
            raise RepoError(str(error)) from None
        progress(f"tofu apply done ({result.seconds:.0f} s)")

    return RepoTarget(
        env=env,
        platform=platform,
        client=functools.cache(tofu.client),
        webserver_url=f"http://127.0.0.1:{platform.webserver_port}",
        work_dir=settings.state_dir / "repos" / env,
        own_ports=True,
        environment={
            "DAGSTER_S3_BUCKET": platform.bucket,
            "AWS_DEFAULT_REGION": platform.region,
            "AWS_ENDPOINT_URL": endpoint,
        },
        base_image=local_platform.platform_image_config(settings),
        apply_registry=apply,
    )


def target_for(env: str, emulator_url: str | None = None) -> RepoTarget:
    try:
        environments.check_emulator_url(env, emulator_url)
    except environments.TargetError as error:
        raise RepoError(str(error)) from None
    if env == "dev":
        return dev_target()
    return tofu_environment_target(env, emulator_url)
