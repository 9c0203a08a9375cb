"""``dagster-ecs deploy``: register new task definition revisions and roll the services."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

import typer
from rich.console import Console

from repository_manager import deploy as deployer
from repository_manager import environments
from repository_manager.deploy_targets import tofu_target
from repository_manager.devstack import stack
from repository_manager.infra import InfraError
from repository_manager.infra.runner import InfraRunner
from repository_manager.settings import StackSettings

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def deploy(
    env: Annotated[
        str,
        typer.Option(
            "--env",
            help="dev: the `make dev` stack; local: the tofu environment on the emulator; "
            "aws: the tofu environment in AWS.",
        ),
    ] = "dev",
    image: Annotated[
        str | None,
        typer.Option(
            help="Platform image of every service (an ECR reference on AWS); "
            "default: the image the services run now."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait until every service runs the new revision.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each group.")] = 600.0,
    emulator_url: Annotated[str | None, typer.Option(help="Emulator URL for --env local.")] = None,
) -> None:
    """Deploy the platform's services: only what changed gets a new revision and a rollout."""
    try:
        environments.check_emulator_url(env, emulator_url)
        if env == "dev":
            stack.redeploy(StackSettings.from_env(), console, image, wait=wait, timeout=timeout)
            return
        runner = InfraRunner(env, emulator_url=emulator_url, stream=False)
        deploy_tofu_env(runner, image, wait=wait, timeout=timeout)
    except (
        environments.TargetError,
        stack.StackError,
        deployer.DeployError,
        InfraError,
        ValueError,
    ) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def deploy_tofu_env(
    runner: InfraRunner, image: str | None, *, wait: bool, timeout: float
) -> list[deployer.DeployResult]:
    """Deploys to an applied tofu environment: the services tofu created get new revisions."""
    target = tofu_target(runner)
    env = runner.env
    ecs = target.client("ecs")
    platform = target.platform
    current = deployer.deployed_image(ecs, platform.cluster)
    platform = dataclasses.replace(platform, image=image or current or platform.image)
    console.print(f"deploying {platform.image} to cluster {platform.cluster} ({env})")
    began = time.monotonic()
    results = deployer.deploy(
        ecs,
        target.client("servicediscovery"),
        platform,
        timeout=timeout,
        wait=wait,
        progress=lambda line: console.print(f"  {line} ({time.monotonic() - began:.1f} s)"),
    )
    changed = [r.service for r in results if r.action != "unchanged"]
    console.print(
        f"{len(changed)} service(s) rolled: {', '.join(changed)}" if changed else "nothing changed"
    )
    return results
