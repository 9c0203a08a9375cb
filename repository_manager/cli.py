"""The ``dagster-ecs`` command line: every Make target is a thin wrapper over one of these verbs."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dagster-ecs",
    help="Dagster on AWS ECS Fargate, and its local emulation.",
    no_args_is_help=True,
    add_completion=False,
)

# Sub-command groups register here, one line each.
from repository_manager.infra.cli import cost, infra_app  # noqa: E402

app.add_typer(infra_app, name="infra")
app.command("cost")(cost)
from repository_manager.devstack.cli import dev_app  # noqa: E402

app.add_typer(dev_app, name="dev")
from repository_manager.logs import logs_command  # noqa: E402

app.command("logs")(logs_command)
