"""fmt and validate of both environments with the real binary (providers from the mirror only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repository_manager.infra.binary import unavailable_reason
from repository_manager.infra.runner import InfraRunner


@pytest.fixture(autouse=True)
def _needs_iac() -> None:
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def test_fmt_check_is_clean(tmp_path: Path) -> None:
    InfraRunner("local", work_dir=tmp_path, stream=False).fmt_check()


@pytest.mark.parametrize("env", ["local", "aws"])
def test_validate_offline_from_the_mirror(env: str, tmp_path: Path) -> None:
    runner = InfraRunner(env, work_dir=tmp_path, stream=False)
    result = runner.validate()
    assert "The configuration is valid" in result.output
    assert (
        tmp_path / "data" / "providers" / "registry.terraform.io" / "hashicorp" / "aws"
    ).is_dir()
    assert "filesystem_mirror" in (tmp_path / "cli.tfrc").read_text()
