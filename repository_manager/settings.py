"""Where the local stack lives and which ports it uses; the environment can override each."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

REGION = "ap-southeast-2"
LOCAL_BUCKET = "dagster-ecs-local"
CLUSTER_NAME = "dagster-ecs"
# Same name as tofu gives it (not `.local`: gRPC's default resolver fails on those names).
NAMESPACE_NAME = "dagster-ecs.internal"
POSTGRES_SECRET_NAME = "dagster-ecs/postgres"
MAIN_LOCATION = "main"


def project_root() -> Path:
    """The checkout: the folder holding pyproject.toml above this package."""
    return Path(__file__).resolve().parents[1]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r} is not a port number; set it to an integer") from error
    if not 0 < value < 65536:
        raise ValueError(f"{name}={value} is out of range; choose a port between 1 and 65535")
    return value


class Ports(BaseModel):
    emulator: int = 4566
    postgres: int = 5432
    code_server: int = 4000
    webserver: int = 3000

    @classmethod
    def from_env(cls) -> Ports:
        defaults = cls()
        return cls(
            emulator=_env_int("DAGSTER_ECS_EMULATOR_PORT", defaults.emulator),
            postgres=_env_int("DAGSTER_ECS_POSTGRES_PORT", defaults.postgres),
            code_server=_env_int("DAGSTER_ECS_CODE_SERVER_PORT", defaults.code_server),
            webserver=_env_int("DAGSTER_ECS_WEBSERVER_PORT", defaults.webserver),
        )


STACK_TAG = "DAGSTER_ECS_STACK"
"""Set to the state dir in the environment of every process a stack starts (and only there):
``make stop`` and the tests find strays by it. Not ``DAGSTER_ECS_STATE_DIR``, which users export
in their shells to pick a state dir."""


class StackSettings(BaseModel):
    """Everything that locates one local stack: its files under ``state_dir`` and its ports."""

    root: Path = Field(default_factory=project_root)
    state_dir: Path
    host: str = "127.0.0.1"
    ports: Ports = Field(default_factory=Ports)

    @classmethod
    def from_env(cls, root: Path | None = None) -> StackSettings:
        root = root or project_root()
        state = os.environ.get("DAGSTER_ECS_STATE_DIR")
        return cls(
            root=root,
            state_dir=Path(state).resolve() if state else root / ".local",
            ports=Ports.from_env(),
        )

    @property
    def emulator_url(self) -> str:
        return f"http://{self.host}:{self.ports.emulator}"

    @property
    def webserver_url(self) -> str:
        return f"http://{self.host}:{self.ports.webserver}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster_home"
