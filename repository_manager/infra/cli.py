"""``dagster-ecs infra init|plan|apply|destroy`` and ``dagster-ecs cost``."""

from __future__ import annotations

from typing import Annotated

import typer

from repository_manager.infra import InfraError
from repository_manager.infra.runner import InfraRunner

infra_app = typer.Typer(
    help="OpenTofu/Terraform for the emulator (local) or AWS (aws).", no_args_is_help=True
)

EnvOption = Annotated[
    str, typer.Option("--env", help="local (the emulator) or aws (ap-southeast-2).")
]
ApproveOption = Annotated[
    bool, typer.Option("--auto-approve", help="Apply/destroy on aws without asking.")
]
BinaryOption = Annotated[
    str | None,
    typer.Option("--binary", help="tofu or terraform (default: $TOFU, tofu, terraform)."),
]
EmulatorOption = Annotated[
    str | None, typer.Option("--emulator-url", help="Emulator URL for --env local.")
]


def _runner(env: str, binary: str | None, emulator_url: str | None) -> InfraRunner:

    return InfraRunner(env, binary=binary, emulator_url=emulator_url)


def _fail(error: InfraError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


@infra_app.command()
def init(
    env: EnvOption = "local", binary: BinaryOption = None, emulator_url: EmulatorOption = None
) -> None:
    """Initialise the environment (providers from the filesystem mirror only)."""
    try:
        _runner(env, binary, emulator_url).init()
    except InfraError as error:
        _fail(error)


@infra_app.command()
def plan(
    env: EnvOption = "local", binary: BinaryOption = None, emulator_url: EmulatorOption = None
) -> None:
    """Show what apply would change."""
    try:
        _runner(env, binary, emulator_url).plan()
    except InfraError as error:
        _fail(error)


@infra_app.command()
def apply(
    env: EnvOption = "local",
    auto_approve: ApproveOption = False,
    binary: BinaryOption = None,
    emulator_url: EmulatorOption = None,
) -> None:
    """Create or update the infrastructure (local: without asking)."""
    try:
        _runner(env, binary, emulator_url).apply(auto_approve=auto_approve)
    except InfraError as error:
        _fail(error)


@infra_app.command()
def destroy(
    env: EnvOption = "local",
    auto_approve: ApproveOption = False,
    binary: BinaryOption = None,
    emulator_url: EmulatorOption = None,
) -> None:
    """Delete the infrastructure (local: without asking)."""
    try:
        _runner(env, binary, emulator_url).destroy(auto_approve=auto_approve)
    except InfraError as error:
        _fail(error)


@infra_app.command()
def topology(
    output: Annotated[
        str, typer.Option("--output", help="Markdown file to write.")
    ] = "docs/topology.md",
) -> None:
    """Regenerate the topology diagram (mermaid) from the modules' dependency graph."""
    from pathlib import Path

    from repository_manager.infra.topology import generate

    try:
        typer.echo(f"wrote {generate(Path(output))}")
    except InfraError as error:
        _fail(error)


def cost(
    code_location: Annotated[
        list[str] | None,
        typer.Option("--code-location", help="Code location name (repeat); default: main."),
    ] = None,
    nat: Annotated[bool, typer.Option("--nat", help="With the optional NAT gateway.")] = False,
    efs: Annotated[bool, typer.Option("--efs", help="With the optional EFS file system.")] = False,
) -> None:
    """Monthly cost estimate (ap-southeast-2), per component and per code location."""
    from repository_manager.infra.cost import by_component, estimate, markdown, topology_for

    names = code_location or ["main"]
    lines = estimate(topology_for({name: {} for name in names}, nat=nat, efs=efs))
    typer.echo(markdown(lines))
    typer.echo("")
    typer.echo("| component | USD/month | after free tier |\n| --- | ---: | ---: |")
    for component, (before, after) in sorted(by_component(lines).items()):
        typer.echo(f"| {component} | {before:.2f} | {after:.2f} |")
