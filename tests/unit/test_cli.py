from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from repository_manager.cli import app

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:  # type: ignore[no-untyped-def]
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(get_command(app), [])
    return paths


def test_dev_verbs_exist() -> None:
    paths = {" ".join(p) for p in _all_command_paths()}
    assert {"dev up", "dev stop", "dev status", "dev logs", "dev reset"} <= paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "root")
def test_every_verb_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_bad_port_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_ECS_WEBSERVER_PORT", "abc")
    result = runner.invoke(app, ["dev", "status"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: DAGSTER_ECS_WEBSERVER_PORT='abc' is not a port number; set it to an integer"
    ]


def test_unknown_log_component_is_rejected() -> None:
    result = runner.invoke(app, ["dev", "logs", "nope", "--no-follow"])
    assert result.exit_code == 2
    assert "unknown component 'nope'" in result.output
