"""The agent's settings, from the task's environment and its code server's command line."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_code.dags_path import dags_dir_from_env

if TYPE_CHECKING:
    from dagster_code.dags_sync.agent import AgentConfig

DEFAULT_INTERVAL_SECONDS = 60.0
DEFAULT_UNHEALTHY_AFTER = 3
DEFAULT_MODULE = "dagster_code.definitions"


class MissingSetting(RuntimeError):
    """A required variable is unset or invalid: the message names it."""


def _option(command: Sequence[str], *names: str) -> str | None:
    for index, argument in enumerate(command):
        for name in names:
            if argument == name and index + 1 < len(command):
                return command[index + 1]
            if argument.startswith(f"{name}="):
                return argument.split("=", 1)[1]
    return None


def required_bucket(env: Mapping[str, str]) -> str:
    bucket = env.get("DAGSTER_S3_BUCKET", "").strip()
    if not bucket:
        raise MissingSetting(
            "DAGSTER_S3_BUCKET is not set: set it to the platform bucket "
            "(tofu output s3_bucket_name) in the task definition"
        )
    return bucket


def interval(env: Mapping[str, str]) -> float:
    raw = env.get("DAG_SYNC_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise MissingSetting(f"DAG_SYNC_INTERVAL={raw!r}: give a number of seconds above 0")
    return value


AGENT_KEY_ID = "DAG_SYNC_AWS_ACCESS_KEY_ID"
AGENT_SECRET_KEY = "DAG_SYNC_AWS_SECRET_ACCESS_KEY"


def agent_credentials(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The agent's own access key when the task injects one (tofu's ``dag_sync_uses_s3_user``);
    ``(None, None)``: boto3's chain, the task role's credentials as for everything else."""
    key_id, secret = env.get(AGENT_KEY_ID, "").strip(), env.get(AGENT_SECRET_KEY, "").strip()
    if bool(key_id) != bool(secret):
        missing = AGENT_SECRET_KEY if key_id else AGENT_KEY_ID
        raise MissingSetting(f"{missing} is not set: the task injects both keys or neither")
    return (key_id, secret) if key_id else (None, None)


def unhealthy_after(env: Mapping[str, str]) -> int:
    raw = env.get("DAG_SYNC_UNHEALTHY_AFTER", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_UNHEALTHY_AFTER


def sync_root(env: Mapping[str, str], location: str) -> Path:
    """In the task's own ephemeral storage (its ``TMPDIR``), one folder per location."""
    base = env.get("DAG_SYNC_ROOT") or env.get("TMPDIR") or "/tmp"
    return Path(base) / "dagster-dags" / location


def task_id(env: Mapping[str, str]) -> str:
    """The ECS task id from the task metadata endpoint (v4), else host and process."""
    uri = env.get("ECS_CONTAINER_METADATA_URI_V4")
    if uri:
        try:
            with urllib.request.urlopen(f"{uri}/task", timeout=5) as response:
                return str(json.load(response)["TaskARN"]).rsplit("/", 1)[-1]
        except (OSError, ValueError, KeyError):
            pass
    return f"{socket.gethostname()}-{os.getpid()}"


def own_address(env: Mapping[str, str]) -> str:
    """The task's own IPv4 address from its container metadata (v4), where a server bound to
    0.0.0.0 on Fargate, or to the task's emulated ENI locally, accepts; else loopback."""
    uri = env.get("ECS_CONTAINER_METADATA_URI_V4")
    if uri:
        try:
            with urllib.request.urlopen(uri, timeout=2) as response:
                return str(json.load(response)["Networks"][0]["IPv4Addresses"][0])
        except (OSError, ValueError, KeyError, IndexError):
            pass
    return "127.0.0.1"


def agent_config(env: Mapping[str, str], server_command: Sequence[str]) -> AgentConfig:
    location = (
        _option(server_command, "--location-name", "-n")
        or env.get("DAGSTER_LOCATION_NAME")
        or env.get("DAGSTER_REPO_NAME")
        or "main"
    )
    port = _option(server_command, "--port", "-p") or env.get("DAGSTER_CODE_SERVER_PORT")
    from dagster_code.dags_sync.agent import AgentConfig

    return AgentConfig(
        location=location,
        bucket=required_bucket(env),
        interval=interval(env),
        image_dags_dir=dags_dir_from_env(env),
        root=sync_root(env, location),
        module=_option(server_command, "--module-name", "-m") or DEFAULT_MODULE,
        task_id=task_id(env),
        grpc_host=_loopback_if_wildcard(
            _option(server_command, "--host", "-h") or env.get("DAGSTER_CODE_SERVER_HOST")
        ),
        grpc_port=int(port) if port and port.isdigit() else None,
    )


def _loopback_if_wildcard(host: str | None) -> str | None:
    return "127.0.0.1" if host in (None, "", "0.0.0.0") else host
