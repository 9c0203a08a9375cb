"""Storage resources of a code location, confined to the repository's S3 prefix.

Every code location writes only under ``repos/{repo}/`` of the platform bucket: asset values
under ``repos/{repo}/assets/``, compute logs under ``repos/{repo}/logs/``. IAM grants each
repository's task role exactly that prefix, so the names built here must match what the control
plane grants; they are validated so no name can escape its prefix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from dagster_aws.s3 import S3PickleIOManager, S3Resource

BUCKET_ENV = "DAGSTER_S3_BUCKET"
REPO_NAME_ENV = "DAGSTER_REPO_NAME"
DEFAULT_REPO_NAME = "main"

REPO_NAME_RULE = (
    "1-63 characters of lowercase letters, digits, '-' and '_', starting with a letter or digit"
)
_REPO_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class PlatformConfigError(RuntimeError):
    """The code location's environment is missing or has an invalid platform setting."""


def validate_repo_name(name: str) -> str:
    """Returns ``name`` if it is a valid repository name, else raises ``ValueError``."""
    if not isinstance(name, str) or not _REPO_NAME.fullmatch(name):
        raise ValueError(f"invalid repository name {name!r}: a valid name is {REPO_NAME_RULE}")
    return name


def repo_prefix(repo_name: str) -> str:
    """The S3 prefix a repository owns, e.g. ``repos/main/``."""
    return f"repos/{validate_repo_name(repo_name)}/"


def asset_prefix(repo_name: str) -> str:
    """Where the repository's asset values live, e.g. ``repos/main/assets/``."""
    return f"{repo_prefix(repo_name)}assets/"


def compute_log_prefix(repo_name: str) -> str:
    """Where the repository's compute logs live, e.g. ``repos/main/logs/``."""
    return f"{repo_prefix(repo_name)}logs/"


def repo_name_from_env(env: Mapping[str, str] | None = None) -> str:
    """The repository name from ``DAGSTER_REPO_NAME`` (default ``main``), validated."""
    env = os.environ if env is None else env
    name = env.get(REPO_NAME_ENV, DEFAULT_REPO_NAME)
    try:
        return validate_repo_name(name)
    except ValueError as error:
        raise PlatformConfigError(f"{REPO_NAME_ENV}: {error}") from None


def bucket_from_env(env: Mapping[str, str] | None = None) -> str:
    """The platform bucket from ``DAGSTER_S3_BUCKET``; fails if it is unset or empty."""
    env = os.environ if env is None else env
    bucket = env.get(BUCKET_ENV, "").strip()
    if not bucket:
        raise PlatformConfigError(
            f"{BUCKET_ENV} is not set: set it to the platform S3 bucket "
            "(locally 'dagster-ecs-local')"
        )
    return bucket


def platform_resources(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``io_manager`` and ``s3`` resources every code location gets.

    No endpoint is passed: boto3 reads ``AWS_ENDPOINT_URL`` itself when it is set.
    """
    bucket = bucket_from_env(env)
    repo_name = repo_name_from_env(env)
    s3 = S3Resource()
    return {
        "s3": s3,
        "io_manager": S3PickleIOManager(
            s3_resource=s3,
            s3_bucket=bucket,
            s3_prefix=asset_prefix(repo_name).rstrip("/"),
        ),
    }
