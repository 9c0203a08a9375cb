from __future__ import annotations

import pytest
import yaml

from repository_manager.instance_config import (
    CodeLocationAddress,
    instance_config,
    to_yaml,
    workspace_config,
)


def test_instance_storage_is_postgres_through_psycopg2_with_env_references() -> None:
    rendered = yaml.safe_load(to_yaml(instance_config()))
    db = rendered["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2"
    assert db["password"] == {"env": "DAGSTER_POSTGRES_PASSWORD"}
    assert db["hostname"] == {"env": "DAGSTER_POSTGRES_HOST"}
    assert "test" not in to_yaml(instance_config())


def test_compute_logs_go_to_the_bucket_under_the_location_prefix() -> None:
    logs = instance_config()["compute_logs"]
    assert isinstance(logs, dict)
    assert (logs["module"], logs["class"]) == (
        "dagster_code.compute_logs",
        "LocationComputeLogManager",
    )
    assert logs["config"] == {
        "bucket": {"env": "DAGSTER_S3_BUCKET"},
        "prefix": {"env": "DAGSTER_COMPUTE_LOG_PREFIX"},
    }


def test_every_run_is_its_own_ecs_task() -> None:
    launcher = instance_config()["run_launcher"]
    assert launcher == {
        "module": "dagster_aws.ecs",
        "class": "EcsRunLauncher",
        "config": {
            "include_sidecars": False,
            "use_current_ecs_task_config": True,
            "secrets_tag": None,
        },
    }


def test_runs_are_queued_and_monitored() -> None:
    config = instance_config(max_concurrent_runs=3)
    assert config["run_coordinator"] == {
        "module": "dagster_code.dags_sync.coordinator",
        "class": "DeploymentPinningRunCoordinator",
        "config": {"max_concurrent_runs": 3},
    }
    assert config["run_monitoring"] == {"enabled": True, "start_timeout_seconds": 300}
    with pytest.raises(ValueError, match="at least 1"):
        instance_config(max_concurrent_runs=0)


def test_workspace_lists_every_location_as_a_grpc_server() -> None:
    rendered = yaml.safe_load(
        to_yaml(
            workspace_config(
                [CodeLocationAddress("main", "127.0.0.1", 4000), CodeLocationAddress("a", "h", 1)]
            )
        )
    )
    assert rendered == {
        "load_from": [
            {"grpc_server": {"host": "127.0.0.1", "port": 4000, "location_name": "main"}},
            {"grpc_server": {"host": "h", "port": 1, "location_name": "a"}},
        ]
    }


def test_workspace_rejects_duplicate_location_names() -> None:
    with pytest.raises(ValueError, match="repeated: main"):
        workspace_config([CodeLocationAddress("main", "a", 1), CodeLocationAddress("main", "b", 2)])


def test_the_image_ships_the_rendered_instance_config() -> None:
    """docker/dagster.yaml is what the local image build renders; regenerate it if this fails."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "docker" / "dagster.yaml"
    assert yaml.safe_load(shipped.read_text()) == yaml.safe_load(to_yaml(instance_config()))
