"""``dagster-ecs infra init|plan|apply|destroy`` and ``dagster-ecs cost``."""

from __future__ import annotations

from typing import Annotated

import typer

from repository_manager.cli_support import new_app
from repository_manager.infra import InfraError, progress
from repository_manager.infra.runner import InfraRunner

infra_app = new_app("OpenTofu/Terraform for the emulator (local) or AWS (aws).")

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="local (the tofu environment in the `make dev` stack's emulator) or aws "
        "(ap-southeast-2). Required: infrastructure commands never guess.",
    ),
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


def _runner(env: str | None, binary: str | None, emulator_url: str | None) -> InfraRunner:
    if env is None:
        raise InfraError(
            "say which environment: ENV=local (the tofu environment in the `make dev` stack's "
            "emulator) or ENV=aws, e.g. `make infra-plan ENV=local`"
        )
    return InfraRunner(env, binary=binary, emulator_url=emulator_url)


def summary(runner: InfraRunner, verb: str, output: str) -> str:
    """Three lines: what changed, where the UI is, what to run next."""
    counts = progress.counts(output) or "done"
    if runner.env == "local":
        ui = f"http://127.0.0.1:{runner.local_ports()['webserver_port']}"
        nxt = "make deploy ENV=local (roll new revisions), make logs SERVICE=webserver ENV=local"
    else:
        stack = runner.outputs().get("stack") or {}
        dns = stack.get("alb_dns_name") if isinstance(stack, dict) else None
        ui = f"http://{dns}" if dns else "see `tofu output` (no load balancer)"
        nxt = "make deploy ENV=aws (roll new revisions), make logs SERVICE=webserver ENV=aws"
    return f"{verb} ({runner.env}): {counts}\nDagster UI: {ui}\nnext: {nxt}"


def _fail(error: InfraError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


@infra_app.command()
def init(
    env: EnvOption = None, binary: BinaryOption = None, emulator_url: EmulatorOption = None
) -> None:
    """Initialise the environment (providers from the filesystem mirror only)."""
    try:
        _runner(env, binary, emulator_url).init()
    except InfraError as error:
        _fail(error)


@infra_app.command()
def plan(
    env: EnvOption = None, binary: BinaryOption = None, emulator_url: EmulatorOption = None
) -> None:
    """Show what apply would change."""
    try:
        runner = _runner(env, binary, emulator_url)
        result = runner.plan()
        changes = "no changes" if result.returncode == 0 else progress.counts(result.output)
        typer.echo(f"plan ({runner.env}): {changes}; full output in {runner.last_log}")
    except InfraError as error:
        _fail(error)


@infra_app.command()
def apply(
    env: EnvOption = None,
    auto_approve: ApproveOption = False,
    binary: BinaryOption = None,
    emulator_url: EmulatorOption = None,
) -> None:
    """Create or update the infrastructure (local: without asking)."""
    try:
        runner = _runner(env, binary, emulator_url)
        result = runner.apply(auto_approve=auto_approve)
        typer.echo(summary(runner, "applied", result.output))
    except InfraError as error:
        _fail(error)


@infra_app.command()
def destroy(
    env: EnvOption = None,
    auto_approve: ApproveOption = False,
    binary: BinaryOption = None,
    emulator_url: EmulatorOption = None,
) -> None:
    """Delete the infrastructure (local: without asking)."""
    try:
        runner = _runner(env, binary, emulator_url)
        result = runner.destroy(auto_approve=auto_approve)
        typer.echo(f"destroyed ({runner.env}): {progress.counts(result.output) or 'done'}")
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
