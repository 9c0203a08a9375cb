"""What a code location is, shared by tofu and the repository manager.

A repository is registered when ``repos/{name}/config.yml`` exists in the platform bucket. Each
registered repository becomes one instance of the ``code_location`` module; ``main`` (the
platform's own code) always exists. The infra CLI writes the result to
``code_locations.auto.tfvars.json`` so plain ``tofu plan`` in the same folder agrees.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import RepoError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
PLATFORM_LOCATION = "main"
# Keys of a hand-written config.yml that shape infrastructure (a location without a Git
# repository, e.g. ``memory: 1024``); a repository's config.yml (``git_url`` …) is RepoConfig's.
INFRA_KEYS = (
    "image",
    "module_name",
    "dags_dir",
    "definitions",
    "cpu",
    "memory",
    "min_tasks",
    "max_tasks",
)
REPOSITORY_MODULE = "dagster_code.repository"


def infra_spec(config: dict[str, Any]) -> dict[str, Any]:
    """The subset of a hand-written config.yml that the code_location module takes."""
    spec = {key: config[key] for key in INFRA_KEYS if config.get(key) is not None}
    for key in ("cpu", "memory", "min_tasks", "max_tasks"):
        if key in spec:
            spec[key] = int(spec[key])
    return spec


def repository_spec(config: RepoConfig) -> dict[str, Any]:
    """What the code_location module takes for a registered repository: the same values
    add-repo renders its task definition and service with (one model for both)."""
    definitions = f"file:{config.python_file}" if config.python_file else f"module:{config.module}"
    spec: dict[str, Any] = {
        "module_name": REPOSITORY_MODULE,
        "definitions": definitions,
        "dags_dir": config.dags_dir or "dags",
        "cpu": config.resources.cpu,
        "memory": config.resources.memory,
        "min_tasks": config.scaling.min_capacity,
        "max_tasks": config.scaling.max_capacity,
    }
    if config.image:
        spec["image"] = config.image
    if config.read_from:
        spec["read_from"] = list(config.read_from)
    if config.grpc_port:
        spec["grpc_port"] = config.grpc_port
    return spec


def parse_config(name: str, text: str) -> dict[str, Any]:
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"repository name {name!r} is not 1-31 lowercase letters, digits or dashes"
        )
    loaded = yaml.safe_load(text) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"repos/{name}/config.yml is not a mapping")
    if "git_url" in loaded:
        try:
            return repository_spec(RepoConfig.from_yaml(text))
        except RepoError as error:
            raise ValueError(f"repos/{name}/config.yml: {error}") from None
    return infra_spec(loaded)


def discover(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """Repositories registered in ``bucket``, plus ``main`` (alone before the bucket exists)."""
    locations: dict[str, dict[str, Any]] = {PLATFORM_LOCATION: {}}
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="repos/")
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    except s3.exceptions.NoSuchBucket:
        return locations
    for key in sorted(keys):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == "config.yml" and parts[1]:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            locations[parts[1]] = parse_config(parts[1], body)
    return locations
