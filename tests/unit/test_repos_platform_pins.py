import tomllib
from pathlib import Path

import pytest

from repository_manager.repos.errors import RepoError
from repository_manager.repos.platform_pins import (
    PLATFORM_ROOT,
    platform_package_hash,
    platform_requirements,
)


def test_pins_come_from_the_platform_pyproject() -> None:
    deps = tomllib.loads((PLATFORM_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = platform_requirements()
    assert [d for d in deps if d.startswith("dagster")] == [
        p for p in pins if p.startswith("dagster")
    ]
    assert any(p.startswith("boto3") for p in pins)
    assert any(p.startswith("psycopg2-binary") for p in pins)
    assert not any(p.startswith(("moto", "fastapi", "uv")) for p in pins)


def test_pins_follow_an_edited_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["Dagster_AWS==9", "dagster==2", "rich", "boto3"]\n'
    )
    assert platform_requirements(tmp_path) == ["Dagster_AWS==9", "dagster==2", "boto3"]


def test_a_pyproject_without_dagster_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["rich"]\n')
    with pytest.raises(RepoError, match="pins no dagster"):
        platform_requirements(tmp_path)


def test_platform_package_hash_changes_with_its_content(tmp_path: Path) -> None:
    package = tmp_path / "dagster_code"
    package.mkdir()
    (package / "__init__.py").write_text("")
    first = platform_package_hash(tmp_path)
    (package / "location.py").write_text("x = 1\n")
    assert platform_package_hash(tmp_path) != first
    assert len(platform_package_hash()) == 64
