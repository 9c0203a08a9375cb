"""What the local stack runs: one ``Component`` per process, in start order."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dagster_ecs_emulator import postgres
from repository_manager import credentials
from repository_manager.settings import REGION, STACK_TAG, StackSettings

EMULATOR = "emulator"
POSTGRES = "postgres"
ECS_RUNTIME = "ecs-runtime"
PROCESSES = (EMULATOR, POSTGRES, ECS_RUNTIME)
EMULATOR_WAIT_S = 180


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None
    user: str | None = None


def base_env(settings: StackSettings) -> dict[str, str]:
    """The few host variables a component needs, plus the tag of this stack's processes."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SSL_CERT_FILE", "AWS_CA_BUNDLE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env[STACK_TAG] = str(settings.state_dir)
    return env


def aws_env(settings: StackSettings) -> dict[str, str]:
    """How every local process reaches the emulated AWS: the standard variables, nothing else
    (the ECS runtime reads the administrator's keys from the stack's credentials file)."""
    return {
        "AWS_ENDPOINT_URL": settings.emulator_url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def access_log(settings: StackSettings) -> Path:
    """The emulator's one line per API call: kept apart from what a person reads."""
    return settings.logs_dir / f"{EMULATOR}-access.log"


def emulator(settings: StackSettings, seed: Path) -> Component:
    """The emulator, which creates the platform's resources of ``seed`` as it boots."""
    return Component(
        name=EMULATOR,
        argv=[
            sys.executable,
            "-m",
            "dagster_ecs_emulator.server",
            "--host",
            settings.host,
            "--port",
            str(settings.ports.emulator),
            "--seed",
            str(seed),
            "--state-dir",
            str(settings.state_dir / "emulator"),
            "--stack-id",
            str(settings.stack_id),
            "--stack-dir",
            str(settings.state_dir),
            "--access-log",
            str(access_log(settings)),
        ],
        # IAM enforced from the first request, as on AWS: the seed creates the administrator.
        env={**base_env(settings), "PYTHONUNBUFFERED": "1", "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
        port=settings.ports.emulator,
    )


def postgres_server(settings: StackSettings, binaries: postgres.PostgresBinaries) -> Component:
    return Component(
        name=POSTGRES,
        argv=postgres.server_argv(
            binaries, settings.postgres_dir, settings.host, settings.ports.postgres
        ),
        env=base_env(settings),
        port=settings.ports.postgres,
        user=postgres.server_user(),
    )


def ecs_runtime(settings: StackSettings, state_dir: Path, images: Path) -> Component:
    """The ECS agent + service scheduler: runs what the emulator's ECS API says should run.
    It may start while the emulator boots, and waits for it."""
    return Component(
        name=ECS_RUNTIME,
        argv=[
            sys.executable,
            "-m",
            "ecs_local",
            "--endpoint",
            settings.emulator_url,
            "--state-dir",
            str(state_dir),
            "--images",
            str(images),
            "--metadata-port",
            "0",
            "--region",
            REGION,
            "--wait-for-endpoint",
            str(EMULATOR_WAIT_S),
            "--credentials-file",
            str(credentials.credentials_file(settings)),
        ],
        env={**base_env(settings), **aws_env(settings), "PYTHONUNBUFFERED": "1"},
        port=None,
    )
