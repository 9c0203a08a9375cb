"""The task definition templates render identically in Python and in Terraform/OpenTofu."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from repository_manager.infra.task_definitions import (
    TEMPLATE_DIR,
    check_template_syntax,
    render_task_definition,
    template_names,
    template_variables,
)

SAMPLE = {
    "family": "dagster-ecs-cl-demo",
    "image": "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/dagster-ecs:abc123",
    "cpu": "256",
    "memory": "512",
    "execution_role_arn": "arn:aws:iam::123456789012:role/dagster-ecs-execution",
    "task_role_arn": "arn:aws:iam::123456789012:role/dagster-ecs-cl-demo",
    "bucket": "dagster-ecs-local",
    "db_host": "db.example.internal",
    "db_name": "dagster",
    "db_user": "dagster",
    "db_secret_arn": "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:rds!db-1",
    "service_namespace": "dagster-ecs.internal",
    "log_group": "/dagster-ecs/webserver",
    "region": "ap-southeast-2",
    "module_name": "dagster_code.definitions",
    "repo_name": "demo",
    "dags_dir": "dags/demo",
    "repo_definitions": "module:demo.definitions",
    "db_port": "5432",
    "grpc_port": "4000",
    "webserver_port": "3000",
    "webserver_host": "0.0.0.0",
    "workspace_refresh_seconds": "10",
    "dag_sync_interval": "60",
    "health_check_interval": "30",
    "workspace_file": "/opt/dagster/dagster_home/workspace.yaml",
}


def variables_for(name: str) -> dict[str, str]:
    return {key: SAMPLE[key] for key in template_variables(name)}


def test_the_three_templates_exist() -> None:
    assert template_names() == ["code_location", "daemon", "webserver"]


@pytest.mark.parametrize("name", ["code_location", "daemon", "webserver"])
def test_renders_register_task_definition_kwargs(name: str) -> None:
    rendered = render_task_definition(name, variables_for(name))
    assert rendered["family"] == SAMPLE["family"]
    assert rendered["requiresCompatibilities"] == ["FARGATE"]
    assert rendered["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert (rendered["cpu"], rendered["memory"]) == ("256", "512")
    (container,) = rendered["containerDefinitions"]
    # moto's run_task fails on Fargate task definitions without container-level memory.
    assert container["memory"] == 512
    assert container["logConfiguration"]["options"]["awslogs-region"] == "ap-southeast-2"


def test_platform_tasks_read_the_database_password_from_secrets_manager() -> None:
    for name in ("webserver", "daemon"):
        (container,) = render_task_definition(name, variables_for(name))["containerDefinitions"]
        assert container["secrets"] == [
            {
                "name": "DAGSTER_POSTGRES_PASSWORD",
                "valueFrom": SAMPLE["db_secret_arn"] + ":password::",
            }
        ]
        assert "DAGSTER_POSTGRES_PASSWORD" not in {e["name"] for e in container["environment"]}


def test_code_location_carries_the_environment_contract() -> None:
    rendered = render_task_definition("code_location", variables_for("code_location"))
    (container,) = rendered["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["DAGSTER_REPO_NAME"] == "demo"
    assert env["DAGS_DIR"] == "dags/demo"
    assert env["DAGSTER_S3_BUCKET"] == "dagster-ecs-local"
    assert env["DAGSTER_COMPUTE_LOG_PREFIX"] == "repos/demo/logs"
    assert env["DAG_SYNC_INTERVAL"] == "60"
    # Sensors and schedules evaluate in the code server against the instance (Postgres):
    # the database password is the one secret a code location gets.
    assert container["secrets"] == [
        {"name": "DAGSTER_POSTGRES_PASSWORD", "valueFrom": f"{SAMPLE['db_secret_arn']}:password::"}
    ]
    assert container["command"][-2:] == ["--location-name", "demo"]


def test_missing_variable_is_named() -> None:
    variables = variables_for("webserver")
    del variables["db_secret_arn"]
    with pytest.raises(ValueError, match="needs variables: db_secret_arn"):
        render_task_definition("webserver", variables)


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: code_location, daemon, webserver"):
        render_task_definition("scheduler", {})


@pytest.mark.parametrize(
    "text", ['{"a": "$HOME"}', '{"a": "%{ if x }y%{ endif }"}', '{"a": "$${x}"}']
)
def test_constructs_the_two_renderers_disagree_on_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        check_template_syntax(text)


def test_templates_use_only_the_common_subset() -> None:
    for path in TEMPLATE_DIR.glob("*.json.tftpl"):
        check_template_syntax(path.read_text())


def _console_render(name: str, variables: dict[str, str], tmp_path: Path) -> dict[str, object]:
    from repository_manager.infra.binary import find_binary, unavailable_reason

    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    expression = f'templatefile("{TEMPLATE_DIR / (name + ".json.tftpl")}", {json.dumps(variables)})'
    completed = subprocess.run(
        [find_binary(), "console"],
        input=expression,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    heredoc = completed.stdout.strip()
    body = heredoc.split("\n", 1)[1].rsplit("\n", 1)[0]  # <<EOT ... EOT
    result: dict[str, object] = json.loads(body)
    return result


@pytest.mark.parametrize("name", ["code_location", "daemon", "webserver"])
def test_python_and_templatefile_render_the_same(name: str, tmp_path: Path) -> None:
    variables = variables_for(name)
    assert _console_render(name, variables, tmp_path) == render_task_definition(name, variables)
