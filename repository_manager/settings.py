"""Where the local stack lives and which ports it uses; the environment can override each."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

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


STACK_FILE = "stack.json"


LOCAL_DAG_SYNC_INTERVAL = 2


def _dag_sync_interval(env: Mapping[str, str]) -> int:
    raw = env.get("DAG_SYNC_INTERVAL", "").strip()
    return int(raw) if raw.isdigit() else LOCAL_DAG_SYNC_INTERVAL


class StackSettings(BaseModel):
    """Everything that locates one local stack: its files under ``state_dir`` and its ports.

    A started stack knows itself: ``dev up`` writes ``<state_dir>/stack.json`` (its id, ports
    and URLs), and every later command takes the stack's endpoints from there, never from the
    shell's port variables, which only choose the ports of a stack about to start.
    """

    root: Path = Field(default_factory=project_root)
    state_dir: Path
    host: str = "127.0.0.1"
    ports: Ports = Field(default_factory=Ports)
    stack_id: str | None = None
    """The id of the started stack these settings came from; None for one not started."""
    dag_sync_interval: int = Field(default_factory=lambda: _dag_sync_interval(os.environ))
    """Seconds between the code locations' DAG syncs (``DAG_SYNC_INTERVAL``; 2 locally)."""

    @classmethod
    def from_env(cls, root: Path | None = None, *, fresh: bool = False) -> StackSettings:
        """The stack of ``$DAGSTER_ECS_STATE_DIR`` (default ``.local/``): the started one as its
        stack file records it, or (``fresh``, or none started) one with the environment's ports."""
        root = root or project_root()
        state = os.environ.get("DAGSTER_ECS_STATE_DIR")
        state_dir = Path(state).resolve() if state else root / ".local"
        if not fresh:
            recorded = _read_stack_file(state_dir / STACK_FILE)
            if recorded is not None:
                return cls(root=root, state_dir=state_dir, **recorded)
        return cls(root=root, state_dir=state_dir, ports=Ports.from_env())

    @property
    def stack_file(self) -> Path:
        return self.state_dir / STACK_FILE

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


def _read_stack_file(path: Path) -> dict[str, Any] | None:
    """host, ports and stack_id of a stack file; None when absent or unreadable."""
    try:
        data = json.loads(path.read_text())
        return {
            "host": str(data["host"]),
            "ports": Ports.model_validate(data["ports"]),
            "stack_id": str(data["stack_id"]),
        }
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValidationError):
        return None
