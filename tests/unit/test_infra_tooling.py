"""Binary and mirror discovery, CLI config, code location parsing, apply output parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repository_manager.infra import InfraError
from repository_manager.infra.binary import find_binary
from repository_manager.infra.code_locations import parse_config
from repository_manager.infra.mirror import MIRROR_ENV, cli_config_text, find_mirror
from repository_manager.infra.runner import InfraRunner, parse_duration, resource_durations
from repository_manager.repos.config import RepoConfig


def make_mirror(root: Path) -> Path:
    platform = root / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
    platform.mkdir(parents=True)
    (platform / "terraform-provider-aws_v5.100.0_x5").write_bytes(b"")
    return root


def test_mirror_from_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV, str(make_mirror(tmp_path)))
    assert find_mirror() == tmp_path


def test_mirror_variable_without_the_provider_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(InfraError, match=r"holds no registry\.terraform\.io/hashicorp/aws"):
        find_mirror()


def test_cli_config_names_only_the_mirror(tmp_path: Path) -> None:
    text = cli_config_text(tmp_path)
    assert f'path    = "{tmp_path}"' in text
    assert "filesystem_mirror" in text
    assert "direct" not in text and "network_mirror" not in text


def test_tofu_variable_picks_the_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "tofu"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TOFU", raising=False)
    assert find_binary() == str(fake)  # OpenTofu first
    monkeypatch.setenv("TOFU", "no-such-tofu")
    with pytest.raises(InfraError, match="TOFU=no-such-tofu is not an executable"):
        find_binary()


def test_no_binary_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TOFU", raising=False)
    with pytest.raises(InfraError, match="neither tofu nor terraform is on PATH"):
        find_binary()


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(InfraError, match="unknown environment 'prod'"):
        InfraRunner("prod")


def test_a_hand_written_config_yml_keeps_only_infrastructure_keys() -> None:
    spec = parse_config("sales", "cpu: '512'\nmemory: 1024\nowner: data-team\n")
    assert spec == {"cpu": 512, "memory": 1024}
    assert parse_config("empty", "") == {}


def test_a_registered_repository_reaches_tofu_as_add_repo_registered_it() -> None:
    config = RepoConfig.parse(
        {
            "name": "sales",
            "git_url": "https://example.com/sales.git",
            "module": "sales.definitions",
            "dags_dir": "sales",
            "resources": {"cpu": 512, "memory": 1024},
            "scaling": {"min_capacity": 0, "max_capacity": 3},
            "read_from": ["ledger"],
            "image": "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/r@sha256:" + "a" * 64,
        }
    )

    spec = parse_config("sales", config.to_yaml())

    assert spec == {
        "module_name": "dagster_code.repository",
        "definitions": "module:sales.definitions",
        "dags_dir": "sales",
        "cpu": 512,
        "memory": 1024,
        "min_tasks": 0,
        "max_tasks": 3,
        "image": config.image,
        "read_from": ["ledger"],
    }


def test_a_location_s_own_grpc_port_reaches_tofu_and_out_of_range_ports_are_refused() -> None:
    base = {"name": "sales", "git_url": "https://example.com/s.git", "module": "sales.defs"}
    config = RepoConfig.parse({**base, "grpc_port": 4013})
    assert parse_config("sales", config.to_yaml())["grpc_port"] == 4013
    assert "grpc_port" not in parse_config("sales", RepoConfig.parse(base).to_yaml())
    with pytest.raises(ValueError, match="grpc_port"):
        parse_config("sales", RepoConfig.parse(base).to_yaml() + "grpc_port: 80\n")


def test_an_invalid_repository_config_is_one_line() -> None:
    text = "name: sales\ngit_url: https://example.com/s.git\nresources: {cpu: 3}\n"
    with pytest.raises(ValueError, match=r"^repos/sales/config.yml: invalid repository config"):
        parse_config("sales", text)


@pytest.mark.parametrize("name", ["Sales", "a_b", "-x", "x" * 32])
def test_invalid_repository_names(name: str) -> None:
    with pytest.raises(ValueError, match="lowercase letters, digits or dashes"):
        parse_config(name, "")


def test_apply_output_durations() -> None:
    assert parse_duration("1m21s") == 81
    assert parse_duration("45s") == 45
    output = (
        "module.stack.module.database.aws_db_instance.this: Creation complete after 1m21s [id=db]\n"
        "module.stack.module.ecs.aws_lb.this: Still creating... [50s elapsed]\n"
        "module.stack.module.ecs.aws_lb.this: Creation complete after 1m0s [id=arn]\n"
        'module.x.aws_s3_object.layout["temp/"]: Destruction complete after 0s\n'
    )
    assert resource_durations(output) == {
        "module.stack.module.database.aws_db_instance.this": 81,
        "module.stack.module.ecs.aws_lb.this": 60,
        'module.x.aws_s3_object.layout["temp/"]': 0,
    }
