"""The rooms and their doors: which package may import which (read from the source, so a new
import across a wall fails here). The control plane reaches the runtime only through the AWS
APIs; the runtime knows ECS, not Dagster; the emulator bootstrap imports none of the others;
``dagster_code`` knows neither the control plane nor the runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "localstack/dagster_ecs_emulator": {
        "repository_manager",
        "ecs_local",
        "dagster_code",
        "dagster",
    },
    "ecs_local": {"repository_manager", "dagster_code", "dagster"},
    "repository_manager": {"ecs_local"},
    "dagster_code": {"repository_manager", "ecs_local", "dagster_ecs_emulator"},
}


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_their_walls(package: str) -> None:
    crossings = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {file: names for file, names in crossings.items() if names} == {}


def test_the_emulator_package_cannot_shadow_localstack() -> None:
    """The emulator bootstrap lives in ``localstack/`` but is the package ``dagster_ecs_emulator``:
    the folder itself is no package, so LocalStack's own ``localstack`` stays importable."""
    assert not (ROOT / "localstack" / "__init__.py").exists()
    assert (ROOT / "localstack" / "dagster_ecs_emulator" / "__init__.py").exists()


def test_the_check_sees_an_import_across_a_wall(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from repository_manager.devstack import x\n")
    assert "repository_manager" in _imported_packages(module)
