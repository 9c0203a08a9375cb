"""The environment, command and working directory a container gets, as on Fargate.

The task process does not inherit the runtime's environment (and so none of its AWS keys): it
gets the image's PATH and variables, the container definition's ``environment`` and resolved
``secrets``, the run_task overrides, the task metadata/credentials endpoints and only
``AWS_ENDPOINT_URL`` + region to reach the emulator, and ``AWS_DISABLE_HOST_PREFIX_INJECTION``:
an SDK puts some operations' host prefix before the endpoint's host (Cloud Map's
DiscoverInstances calls ``data-servicediscovery…`` on AWS), and ``data-127.0.0.1`` resolves
nowhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from ecs_local.images import Image

# Host variables a process needs to behave (locale, temp dir); never credentials.
_HOST_KEEP = ("LANG", "LC_ALL", "TZ", "TMPDIR")
_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SecretError(Exception):
    pass


def container_override(overrides: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in overrides.get("containerOverrides", []) or []:
        if entry.get("name") == name:
            return dict(entry)
    return {}


def argv_for(definition: dict[str, Any], override: dict[str, Any], image: Image) -> list[str]:
    """Docker's rule: entryPoint (or the image's) followed by command (or the image's)."""
    entry_point = definition.get("entryPoint") or image.entry_point
    command = override.get("command") or definition.get("command") or image.command
    if definition.get("entryPoint") and not (override.get("command") or definition.get("command")):
        command = []
    argv = list(entry_point) + list(command)
    if not argv:
        raise ValueError(
            f"container {definition.get('name')}: no entryPoint/command, none in the image"
        )
    return argv


def parse_secret_ref(value_from: str) -> tuple[str, str, str | None]:
    """Returns (kind, id, json_key) for a container ``secrets[].valueFrom``.

    Secrets Manager: ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`` optionally followed
    by ``:json-key:version-stage:version-id``;
    SSM: a parameter ARN (``arn:aws:ssm:...:parameter/NAME``) or name.
    """
    parts = value_from.split(":")
    if value_from.startswith("arn:") and len(parts) >= 7 and parts[2] == "secretsmanager":
        secret_id = ":".join(parts[:7])
        json_key = parts[7] if len(parts) > 7 and parts[7] else None
        return "secretsmanager", secret_id, json_key
    if value_from.startswith("arn:") and len(parts) >= 6 and parts[2] == "ssm":
        name = ":".join(parts[5:]).split("parameter", 1)[1]
        return (
            "ssm",
            name if name.startswith("/") and name.count("/") > 1 else name.lstrip("/"),
            None,
        )
    return "ssm", value_from, None


def resolve_secrets(
    secrets: list[dict[str, str]], client_for: Callable[[str], Any]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for secret in secrets:
        kind, identifier, json_key = parse_secret_ref(secret["valueFrom"])
        try:
            if kind == "secretsmanager":
                value = client_for("secretsmanager").get_secret_value(SecretId=identifier)[
                    "SecretString"
                ]
                if json_key:
                    value = json.loads(value)[json_key]
            else:
                value = client_for("ssm").get_parameter(Name=identifier, WithDecryption=True)[
                    "Parameter"
                ]["Value"]
        except Exception as error:
            raise SecretError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"retrieving secret {secret['name']} from {secret['valueFrom']}: {error}"
            ) from error
        values[secret["name"]] = str(value)
    return values


MAX_ENVIRONMENT_FILES = 10


def environment_file_location(arn: str) -> tuple[str, str]:
    """``arn:aws:s3:::bucket/key.env`` -> (bucket, key); what ECS accepts, else ValueError."""
    prefix = "arn:aws:s3:::"
    bucket, _, key = arn.removeprefix(prefix).partition("/")
    if not arn.startswith(prefix) or not bucket or not key:
        raise ValueError(f"environment file {arn!r} is not an S3 object ARN")
    if not key.endswith(".env"):
        raise ValueError(f"environment file {arn!r} must have the .env extension")
    return bucket, key


def parse_environment_file(text: str) -> dict[str, str]:
    """A Docker env-file, as Fargate reads one: ``VARIABLE=VALUE`` per line, the value verbatim
    (spaces and quotes included, no shell escapes), ``#`` lines and blank lines ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, _, value = stripped.partition("=")
        values[name] = value
    return values


def build_env(
    definition: dict[str, Any],
    override: dict[str, Any],
    image: Image,
    secrets: dict[str, str],
    endpoints: dict[str, str],
    region: str,
    aws_endpoint: str,
    file_values: dict[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment. ``file_values``: its environmentFiles' variables, which its
    ``environment`` overrides (ECS's precedence)."""
    env = {key: os.environ[key] for key in _HOST_KEEP if key in os.environ}
    env["HOME"] = os.environ.get("HOME", "/root")
    env["PATH"] = f"{image.bin_dir}:{_BASE_PATH}"
    if image.root.joinpath("pyvenv.cfg").exists():
        env["VIRTUAL_ENV"] = str(image.root)
    env.update(image.env)
    env.update(
        {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
        }
    )
    env.update(endpoints)
    env.update(file_values or {})
    for item in definition.get("environment", []) or []:
        env[item["name"]] = item["value"]
    for item in override.get("environment", []) or []:
        env[item["name"]] = item["value"]
    env.update(secrets)
    return env
