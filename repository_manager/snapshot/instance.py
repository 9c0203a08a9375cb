"""The Dagster instance as an environment's webserver reports it: its Dagster version, each
location's Dagster libraries, and the run launcher and coordinator settings (module, class,
config as written in ``dagster.yaml``; values that look secret and ``NAME=value`` variables
keep only their names)."""

from __future__ import annotations

import re
from typing import Any

import requests
import yaml

from repository_manager.dagster_api import DagsterApi, DagsterApiError
from repository_manager.snapshot.model import InstanceShape, SnapshotError

_QUERY = """{ version instance { info }
  workspaceOrError { __typename ... on Workspace { locationEntries { name
    locationOrLoadError { __typename
      ... on RepositoryLocation { dagsterLibraryVersions { name version } } } } } } }"""
_SECRET_KEY = re.compile(r"password|secret|token|credential|private", re.IGNORECASE)
MASKED = "(value not held)"
_NAMES_ONLY = {"secrets", "secrets_tag"}
"""EcsRunLauncher settings that name secrets (ARNs, a tag) and never hold their values."""


def read_instance(webserver_url: str, env: str) -> tuple[InstanceShape, dict[str, dict[str, str]]]:
    """The instance and, per loaded location, its Dagster library versions (a location that is
    loading or failed to load is left out: what it runs is not known)."""
    try:
        data = DagsterApi(webserver_url, timeout=30).query(_QUERY)
    except (requests.RequestException, DagsterApiError) as error:
        raise SnapshotError(
            f"cannot read environment {env}'s Dagster instance at {webserver_url}: {error}; "
            "pass --webserver-url (the load balancer's URL)"
        ) from None
    info = yaml.safe_load((data.get("instance") or {}).get("info") or "") or {}
    instance = InstanceShape(
        dagster_version=str(data.get("version") or ""),
        run_launcher=_component(info.get("run_launcher")),
        run_coordinator=_component(info.get("run_coordinator")),
    )
    versions: dict[str, dict[str, str]] = {}
    workspace = data.get("workspaceOrError") or {}
    for entry in workspace.get("locationEntries") or []:
        location = entry.get("locationOrLoadError") or {}
        libraries = location.get("dagsterLibraryVersions")
        if location.get("__typename") == "RepositoryLocation" and libraries:
            versions[entry["name"]] = {lib["name"]: lib["version"] for lib in libraries}
    return instance, versions


def _component(info: Any) -> dict[str, Any]:
    """``{module, class, config}`` of an instance component; a bare class name otherwise."""
    if isinstance(info, str):
        return {"class": info}
    if not isinstance(info, dict):
        return {}
    return {str(k): masked(v) for k, v in info.items()}


def masked(value: Any, key: str = "") -> Any:
    """``value`` without what may be a secret: values under secret-looking keys, and the value
    part of ``NAME=value`` strings (EcsRunLauncher's ``env_vars``)."""
    if key in _NAMES_ONLY:
        return value
    if _SECRET_KEY.search(key) and not isinstance(value, dict | list):
        return MASKED
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return value
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if (
        isinstance(value, str)
        and "=" in value
        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", value)
    ):
        return value.split("=", 1)[0] + "=" + MASKED
    return value
