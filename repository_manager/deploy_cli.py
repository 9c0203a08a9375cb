"""``dagster-ecs deploy``: register new task definition revisions and roll the services."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from repository_manager.devstack import local_platform, stack
from repository_manager.settings import StackSettings

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def deploy(
    image: Annotated[
        str, typer.Option(help="Platform image of every service (an ECR reference on AWS).")
    ] = local_platform.PLATFORM_IMAGE,
) -> None:
    """Deploy the platform's services to the local stack: only what changed gets a new revision."""
    try:
        stack.redeploy(StackSettings.from_env(), console, image)
    except (stack.StackError, ValueError) as error:
        error_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
