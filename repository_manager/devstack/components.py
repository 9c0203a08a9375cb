"""What the local stack runs: one ``Component`` per process, in start order."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from repository_manager.devstack import postgres
from repository_manager.settings import LOCAL_BUCKET, MAIN_LOCATION, REGION, StackSettings

EMULATOR = "emulator"
POSTGRES = "postgres"
CODE_SERVER = "code-server"
WEBSERVER = "webserver"
DAEMON = "daemon"
ALL = (EMULATOR, POSTGRES, CODE_SERVER, WEBSERVER, DAEMON)


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    depends_on: tuple[str, ...] = field(default_factory=tuple)


def _bin(name: str) -> str:
    """A console script of the interpreter running this CLI (the project's venv)."""
    return str(Path(sys.executable).parent / name)


def _base_env(settings: StackSettings) -> dict[str, str]:
    """The few host variables a component needs, plus the stack's state dir, which tags every
    process of this stack (``make status`` and the tests find strays by it)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SSL_CERT_FILE", "AWS_CA_BUNDLE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["DAGSTER_ECS_STATE_DIR"] = str(settings.state_dir)
    return env


def aws_env(settings: StackSettings) -> dict[str, str]:
    """How every local process reaches the emulated AWS: the standard variables, nothing else."""
    return {
        "AWS_ENDPOINT_URL": settings.emulator_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # The emulator accepts any key; these name no real account.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def dagster_env(settings: StackSettings, postgres_password: str) -> dict[str, str]:
    return {
        **_base_env(settings),
        **aws_env(settings),
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_POSTGRES_HOST": settings.host,
        "DAGSTER_POSTGRES_PORT": str(settings.ports.postgres),
        "DAGSTER_POSTGRES_USER": postgres.DB_USER,
        "DAGSTER_POSTGRES_PASSWORD": postgres_password,
        "DAGSTER_POSTGRES_DB": postgres.DB_NAME,
        "DAGSTER_S3_BUCKET": LOCAL_BUCKET,
        "DAGSTER_REPO_NAME": MAIN_LOCATION,
        "DAGSTER_COMPUTE_LOG_PREFIX": f"repos/{MAIN_LOCATION}/logs",
        "DAGS_DIR": str(settings.root / "dags" / MAIN_LOCATION),
        "PYTHONUNBUFFERED": "1",
        # Cloud Map names end in .local; gRPC's default c-ares resolver fails on them.
        "GRPC_DNS_RESOLVER": "native",
    }


def emulator(settings: StackSettings) -> Component:
    return Component(
        name=EMULATOR,
        argv=[
            sys.executable,
            "-m",
            "localstack.server",
            "--host",
            settings.host,
            "--port",
            str(settings.ports.emulator),
        ],
        env={**_base_env(settings), "PYTHONUNBUFFERED": "1"},
        port=settings.ports.emulator,
    )


def postgres_server(settings: StackSettings, binaries: postgres.PostgresBinaries) -> Component:
    return Component(
        name=POSTGRES,
        argv=postgres.server_argv(
            binaries, settings.postgres_dir, settings.host, settings.ports.postgres
        ),
        env=_base_env(settings),
        port=settings.ports.postgres,
        user=postgres.server_user(),
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to leave.
        stop_signal=signal.SIGINT,
    )


def dagster_components(settings: StackSettings, postgres_password: str) -> list[Component]:
    env = dagster_env(settings, postgres_password)
    workspace = str(settings.dagster_home / "workspace.yaml")
    return [
        Component(
            name=CODE_SERVER,
            argv=[
                _bin("dagster"),
                "code-server",
                "start",
                "-m",
                "dagster_code.definitions",
                "--location-name",
                MAIN_LOCATION,
                "-h",
                settings.host,
                "-p",
                str(settings.ports.code_server),
            ],
            env=env,
            port=settings.ports.code_server,
            depends_on=(EMULATOR, POSTGRES),
        ),
        Component(
            name=WEBSERVER,
            argv=[
                _bin("dagster-webserver"),
                "-h",
                settings.host,
                "-p",
                str(settings.ports.webserver),
                "-w",
                workspace,
            ],
            env=env,
            port=settings.ports.webserver,
            depends_on=(EMULATOR, POSTGRES),
        ),
        Component(
            name=DAEMON,
            argv=[_bin("dagster-daemon"), "run", "-w", workspace],
            env=env,
            port=None,
            depends_on=(EMULATOR, POSTGRES),
        ),
    ]
