from __future__ import annotations

from pathlib import Path

import pytest

from repository_manager.settings import Ports, StackSettings


def test_defaults_are_the_familiar_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMULATOR", "POSTGRES", "CODE_SERVER", "WEBSERVER"):
        monkeypatch.delenv(f"DAGSTER_ECS_{name}_PORT", raising=False)
    assert Ports.from_env() == Ports(emulator=4566, postgres=5432, code_server=4000, webserver=3000)


def test_ports_and_state_dir_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGSTER_ECS_WEBSERVER_PORT", "3999")
    monkeypatch.setenv("DAGSTER_ECS_STATE_DIR", str(tmp_path))
    settings = StackSettings.from_env(root=tmp_path)
    assert settings.ports.webserver == 3999
    assert settings.webserver_url == "http://127.0.0.1:3999"
    assert settings.dagster_home == tmp_path / "dagster_home"


def test_state_dir_defaults_to_local_in_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAGSTER_ECS_STATE_DIR", raising=False)
    assert StackSettings.from_env(root=tmp_path).state_dir == tmp_path / ".local"


@pytest.mark.parametrize(
    ("raw", "message"),
    [("http", "is not a port number"), ("0", "out of range"), ("70000", "out of range")],
)
def test_bad_ports_are_rejected_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    monkeypatch.setenv("DAGSTER_ECS_POSTGRES_PORT", raw)
    with pytest.raises(ValueError, match=message) as error:
        Ports.from_env()
    assert "DAGSTER_ECS_POSTGRES_PORT" in str(error.value)
