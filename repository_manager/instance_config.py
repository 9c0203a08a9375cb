"""Renders the Dagster instance (``dagster.yaml``) and workspace (``workspace.yaml``) files.

Values that differ between the laptop and ECS (database host, password, bucket) are left as
``{env: VAR}`` references, so the same rendered file serves every process and every environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class CodeLocationAddress:
    name: str
    host: str
    port: int


def instance_config(*, max_concurrent_runs: int = 2) -> dict[str, object]:
    if max_concurrent_runs < 1:
        raise ValueError("max_concurrent_runs must be at least 1")
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; the stack ships psycopg2.
                    "scheme": "postgresql+psycopg2",
                    "hostname": {"env": "DAGSTER_POSTGRES_HOST"},
                    "port": {"env": "DAGSTER_POSTGRES_PORT"},
                    "username": {"env": "DAGSTER_POSTGRES_USER"},
                    "password": {"env": "DAGSTER_POSTGRES_PASSWORD"},
                    "db_name": {"env": "DAGSTER_POSTGRES_DB"},
                }
            }
        },
        # Each run's logs under its own location's prefix; DAGSTER_COMPUTE_LOG_PREFIX for the rest.
        "compute_logs": {
            "module": "dagster_code.compute_logs",
            "class": "LocationComputeLogManager",
            "config": {
                "bucket": {"env": "DAGSTER_S3_BUCKET"},
                "prefix": {"env": "DAGSTER_COMPUTE_LOG_PREFIX"},
            },
        },
        # Each run is its own ECS task, configured from the launching (daemon) task's metadata.
        "run_launcher": {
            "module": "dagster_aws.ecs",
            "class": "EcsRunLauncher",
            # No secrets_tag: the launcher would ListSecrets on every launch, which the daemon's
            # least-privilege role does not allow (secrets come from the task definition).
            "config": {
                "include_sidecars": False,
                "use_current_ecs_task_config": True,
                "secrets_tag": None,
            },
        },
        "run_coordinator": {
            "module": "dagster_code.dags_sync.coordinator",
            "class": "DeploymentPinningRunCoordinator",
            "config": {"max_concurrent_runs": max_concurrent_runs},
        },
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 300},
        "telemetry": {"enabled": False},
    }


def workspace_config(locations: list[CodeLocationAddress]) -> dict[str, object]:
    names = [location.name for location in locations]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"code location names must be unique; repeated: {', '.join(duplicates)}")
    return {
        "load_from": [
            {
                "grpc_server": {
                    "host": location.host,
                    "port": location.port,
                    "location_name": location.name,
                }
            }
            for location in locations
        ]
    }


def to_yaml(document: dict[str, object]) -> str:
    return yaml.safe_dump(document, sort_keys=False)
