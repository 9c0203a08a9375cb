"""The ``dagster-ecs`` command line: every Make target is a thin wrapper over one of these verbs."""

from __future__ import annotations

from repository_manager.cli_support import ENVIRONMENT_HELP, new_app
from repository_manager.dags.cli import dags_app
from repository_manager.deploy_cli import deploy
from repository_manager.devstack.cli import dev_app
from repository_manager.infra.cli import cost, infra_app
from repository_manager.logs import logs_command
from repository_manager.repos.cli import repo_app
from repository_manager.snapshot.cli import parity_command, replay_command, snapshot_command

app = new_app(
    f"Dagster on AWS ECS Fargate, and its local emulation.\n\n{ENVIRONMENT_HELP}",
    name="dagster-ecs",
)

app.add_typer(dev_app, name="dev")
app.command("deploy")(deploy)
app.command("logs")(logs_command)
app.add_typer(infra_app, name="infra")
app.add_typer(repo_app, name="repo")
app.add_typer(dags_app, name="dags")
app.command("cost")(cost)
app.command("snapshot")(snapshot_command)
app.command("parity")(parity_command)
app.command("replay")(replay_command)
