"""Dagster's tables in a new local database, created before the services start.

Creating the instance against an empty database creates the schema at its newest revision —
what the webserver, daemon and code server would otherwise each race to do on first start. Only
the storage section of the instance is loaded, which keeps this one process light.
"""

from __future__ import annotations

import subprocess
import sys

from repository_manager import instance_config
from repository_manager.devstack import components as c
from repository_manager.devstack import postgres
from repository_manager.settings import StackSettings

SCHEMA_TIMEOUT_S = 180.0


class SchemaError(RuntimeError):
    pass


def create_schema(settings: StackSettings, password: str) -> None:
    home = settings.state_dir / "dagster_schema"
    home.mkdir(parents=True, exist_ok=True)
    storage_only = {
        "storage": instance_config.instance_config()["storage"],
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(instance_config.to_yaml(storage_only))
    env = {
        **c.base_env(settings),
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": settings.host,
        "DAGSTER_PG_PORT": str(settings.ports.postgres),
        "DAGSTER_PG_USER": postgres.DB_USER,
        "DAGSTER_PG_PASSWORD": password,
        "DAGSTER_PG_DB": postgres.DB_NAME,
    }
    result = subprocess.run(
        [sys.executable, "-m", __name__],
        env=env,
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=SCHEMA_TIMEOUT_S,
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise SchemaError(
            f"creating Dagster's schema failed: {lines[-1] if lines else result.returncode}"
        )


def main() -> None:
    from dagster import DagsterInstance

    DagsterInstance.get().dispose()


if __name__ == "__main__":
    main()
