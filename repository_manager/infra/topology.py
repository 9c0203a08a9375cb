"""``terraform graph`` (DOT) filtered into a mermaid diagram of modules and resources."""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from pathlib import Path

_EDGE = re.compile(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"')
_STACK = "module.stack."


def _split(address: str) -> tuple[str, str] | None:
    """``module.stack.module.ecs.aws_lb.this`` -> (``ecs``, ``aws_lb.this``); None otherwise."""
    address = address.removeprefix("[root] ").removesuffix(" (expand)")
    if not address.startswith(_STACK):
        return None
    parts = address.removeprefix(_STACK).split(".")
    if len(parts) != 4 or parts[0] != "module" or parts[2].startswith("data"):
        return None
    if not parts[2].startswith("aws_"):
        return None
    return parts[1], f"{parts[2]}.{parts[3]}"


def _node_id(module: str, resource: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{module}__{resource}")


def mermaid(dot: str) -> str:
    nodes: dict[str, set[str]] = defaultdict(set)
    edges: set[tuple[str, str]] = set()
    for line in dot.splitlines():
        match = _EDGE.match(line)
        if not match:
            continue
        source, target = _split(match[1]), _split(match[2])
        for node in (source, target):
            if node:
                nodes[node[0]].add(node[1])
        if source and target and source[0] != target[0]:
            edges.add((_node_id(*source), _node_id(*target)))
    lines = ["flowchart LR"]
    for module in sorted(nodes):
        lines.append(f"  subgraph {module}")
        for resource in sorted(nodes[module]):
            lines.append(f'    {_node_id(module, resource)}["{resource}"]')
        lines.append("  end")
    lines += [f"  {a} --> {b}" for a, b in sorted(edges)]
    return "\n".join(lines) + "\n"


COMMAND = "dagster-ecs infra topology"


def document(dot: str) -> str:
    return (
        "# Topology\n\n"
        "Resources of `infrastructure/modules/stack` grouped by module, with the dependencies\n"
        "that cross modules (from `terraform graph`; one code location, autoscaling on, no\n"
        "optional NAT/EFS/IAM user). Generated; do not edit. Regenerate with:\n\n"
        f"```\n{COMMAND}\n```\n\n"
        f"```mermaid\n{mermaid(dot)}```\n"
    )


def generate(output: Path) -> Path:
    """Runs ``graph`` on the local env in a temp dir (no emulator needed) and writes ``output``."""
    from repository_manager.infra.runner import InfraRunner

    with tempfile.TemporaryDirectory(prefix="dagster-ecs-graph-") as tmp:
        runner = InfraRunner(
            "local",
            work_dir=Path(tmp),
            stream=False,
            variables={"autoscaling_enabled": True, "code_locations": {"main": {}}},
        )
        runner.init()
        dot = runner.graph()
    output.write_text(document(dot))
    return output
