"""Definitions entry point of an external repository's code location.

``dagster code-server start -m dagster_code.repository --location-name <repo>`` loads the
repository's own definitions, named by ``DAGSTER_REPO_DEFINITIONS``: ``module:pkg.definitions``
or ``file:pkg/definitions.py`` (relative to the checkout, the working directory). The
repository's code is not changed: where it binds no ``io_manager`` (or ``s3``) the platform's
prefix-confined ones are added, so its assets land under ``repos/{name}/assets/``; where it binds
its own, it finds ``DAGSTER_S3_BUCKET`` and ``DAGSTER_S3_PREFIX`` in its environment. IAM confines
the task role to the prefix either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from dagster import Definitions, in_process_executor

from dagster_code.dags_sync.manifest import DEPLOYMENT_METADATA_KEY, IMAGE_DEPLOYMENT
from dagster_code.dags_sync.overlay import apply, overlaid_target, repository_overlay
from dagster_code.resources import PlatformConfigError, platform_resources

DEFINITIONS_ENV = "DAGSTER_REPO_DEFINITIONS"


def _load_module(target: str) -> object:
    kind, _, value = target.partition(":")
    if kind == "module" and value:
        return importlib.import_module(value)
    if kind == "file" and value:
        path = Path(value)
        if not path.is_absolute():
            path = Path.cwd() / path
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(f"dagster_repo_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise PlatformConfigError(f"{DEFINITIONS_ENV}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    raise PlatformConfigError(
        f"{DEFINITIONS_ENV}={target!r}: expected module:<dotted.name> or file:<path.py>"
    )


def find_definitions(module: object) -> Definitions:
    """``defs`` if it is a Definitions, else the module's only Definitions object."""
    defs = getattr(module, "defs", None)
    if isinstance(defs, Definitions):
        return defs
    found = [value for value in vars(module).values() if isinstance(value, Definitions)]
    if len(found) == 1:
        return found[0]
    raise PlatformConfigError(
        f"{getattr(module, '__name__', module)} exposes {len(found)} dagster.Definitions "
        "objects; expose exactly one (conventionally `defs`)"
    )


def build_definitions(env: Mapping[str, str] | None = None) -> Definitions:
    """The repository's definitions, from its DAG deployment where it has one (the synced or
    the run's pinned tree over its ``dags_dir``), with the platform's resources and executor."""
    env = os.environ if env is None else env
    target = env.get(DEFINITIONS_ENV, "")
    overlay = repository_overlay(env)
    if overlay is not None:
        apply(overlay)
        target = overlaid_target(target, overlay)
    repo_defs = find_definitions(_load_module(target))
    bound = set(repo_defs.resources or {})
    platform = {k: v for k, v in platform_resources(env).items() if k not in bound}
    return Definitions.merge(
        repo_defs,
        Definitions(
            resources=platform,
            executor=None if repo_defs.executor is not None else in_process_executor,
            metadata={DEPLOYMENT_METADATA_KEY: overlay.deployment if overlay else IMAGE_DEPLOYMENT},
        ),
    )


defs = build_definitions()
