"""Dagster's tables in the local PostgreSQL, created (or migrated) before the services start.

``dagster instance migrate`` is what a production deploy runs before rolling the services; here it
also spares the webserver, daemon and code server from racing to create the schema on first start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from repository_manager.devstack import components as c
from repository_manager.devstack import postgres
from repository_manager.settings import LOCAL_BUCKET, MAIN_LOCATION, StackSettings

MIGRATE_TIMEOUT_S = 180.0


class MigrationError(RuntimeError):
    pass


def instance_env(settings: StackSettings, password: str) -> dict[str, str]:
    """What the platform's task definitions give the Dagster processes, for this one command."""
    return {
        **c.base_env(settings),
        **c.aws_env(settings),
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_PG_HOST": settings.host,
        "DAGSTER_PG_PORT": str(settings.ports.postgres),
        "DAGSTER_PG_USER": postgres.DB_USER,
        "DAGSTER_PG_PASSWORD": password,
        "DAGSTER_PG_DB": postgres.DB_NAME,
        "DAGSTER_S3_BUCKET": LOCAL_BUCKET,
        "DAGSTER_COMPUTE_LOG_PREFIX": f"repos/{MAIN_LOCATION}/logs",
    }


def migrate(settings: StackSettings, password: str) -> None:
    dagster = str(Path(sys.executable).parent / "dagster")
    result = subprocess.run(
        [dagster, "instance", "migrate"],
        env=instance_env(settings, password),
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise MigrationError(
            f"`dagster instance migrate` failed: {lines[-1] if lines else result.returncode}"
        )
