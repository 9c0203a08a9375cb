"""Dagster's tables in a new local database, created before the services start.

Creating the instance against an empty database creates the schema at its newest revision —
what the webserver, daemon and code server would otherwise each race to do on first start. Only
the storage section of the instance is loaded, which keeps this one process light.

The process starts with the stack, at a lower CPU priority than the emulator's boot, and loads
Dagster's storage code while PostgreSQL is initialised; it creates the tables once told that the
database exists (a line on its stdin), and exits at once if told nothing (stdin closed).
"""

from __future__ import annotations

import os
import subprocess
import sys

from dagster_ecs_emulator import postgres
from repository_manager import instance_config
from repository_manager.devstack import components as c
from repository_manager.settings import StackSettings

SCHEMA_TIMEOUT_S = 180.0
NICENESS = 10
CREATE = "create\n"


class SchemaError(RuntimeError):
    pass


class SchemaCreator:
    def __init__(self, settings: StackSettings, password: str) -> None:
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
            "DAGSTER_POSTGRES_HOST": settings.host,
            "DAGSTER_POSTGRES_PORT": str(settings.ports.postgres),
            "DAGSTER_POSTGRES_USER": postgres.DB_USER,
            "DAGSTER_POSTGRES_PASSWORD": password,
            "DAGSTER_POSTGRES_DB": postgres.DB_NAME,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            env=env,
            cwd=settings.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def create(self) -> None:
        """Creates the schema in the (new) database; raises SchemaError when that failed."""
        try:
            output, _ = self.process.communicate(CREATE, timeout=SCHEMA_TIMEOUT_S)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.cancel()
            output = f"no answer after {SCHEMA_TIMEOUT_S:.0f} s"
        if self.process.returncode != 0:
            lines = output.strip().splitlines()
            cause = lines[-1] if lines else f"exit code {self.process.returncode}"
            raise SchemaError(f"creating Dagster's schema failed: {cause}")

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def main() -> None:
    os.nice(NICENESS)
    import dagster_postgres  # noqa: F401 (the storage code, loaded while waiting)
    import sqlalchemy.pool
    from dagster import DagsterInstance

    if sys.stdin.readline() == CREATE:
        # Dagster's Postgres storages connect anew for every statement (NullPool): ~50 logins
        # here, half the time of creating the schema. This one-shot process pools them.
        sqlalchemy.pool.NullPool = sqlalchemy.pool.QueuePool  # type: ignore[misc, assignment]
        DagsterInstance.get().dispose()
        # Done: skip the teardown of everything Dagster imported (~0.3 s the stack waits for).
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
