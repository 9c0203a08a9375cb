"""Task definitions have one source: ``infrastructure/task_definitions/*.json.tftpl``.

Terraform renders them with ``templatefile()``, the Python deployer with
:func:`render_task_definition`.
The templates use only ``${name}`` placeholders (no ``%{`` directives, no bare ``$name``), the
subset on which ``string.Template`` and ``templatefile()`` agree, so both produce the same JSON.
The result is the keyword arguments of ECS ``RegisterTaskDefinition``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template
from typing import Any

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "infrastructure" / "task_definitions"
SUFFIX = ".json.tftpl"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_path(name: str, template_dir: Path = TEMPLATE_DIR) -> Path:
    path = template_dir / f"{name}{SUFFIX}"
    if not path.is_file():
        known = ", ".join(template_names(template_dir)) or "none"
        raise ValueError(f"no task definition template {name!r} (known: {known})")
    return path


def template_names(template_dir: Path = TEMPLATE_DIR) -> list[str]:
    return sorted(p.name.removesuffix(SUFFIX) for p in template_dir.glob(f"*{SUFFIX}"))


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def check_template_syntax(text: str) -> None:
    """Rejects what the two renderers would treat differently."""
    if "%{" in text:
        raise ValueError(
            "template directives (%{...}) are not allowed: string.Template ignores them"
        )
    stripped = _PLACEHOLDER.sub("", text)
    if "$" in stripped:
        raise ValueError("a '$' outside ${name} placeholders renders differently in Python and HCL")


def template_variables(name: str, template_dir: Path = TEMPLATE_DIR) -> set[str]:
    return placeholders(template_path(name, template_dir).read_text())


def render_task_definition(
    name: str, variables: dict[str, Any], template_dir: Path = TEMPLATE_DIR
) -> dict[str, Any]:
    """Renders template ``name`` with ``variables`` into RegisterTaskDefinition kwargs."""
    text = template_path(name, template_dir).read_text()
    check_template_syntax(text)
    missing = sorted(placeholders(text) - variables.keys())
    if missing:
        raise ValueError(f"task definition {name!r} needs variables: {', '.join(missing)}")
    rendered = Template(text).substitute({k: str(v) for k, v in variables.items()})
    try:
        result: dict[str, Any] = json.loads(rendered)
    except json.JSONDecodeError as error:
        raise ValueError(f"task definition {name!r} rendered invalid JSON: {error}") from None
    return result
