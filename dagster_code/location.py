"""Composes a code location: the DAG package's definitions plus the platform's storage and
executor. Kept apart from :mod:`dagster_code.definitions`, which builds at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dagster import Definitions, in_process_executor

from dagster_code.dags_sync.manifest import DEPLOYMENT_METADATA_KEY
from dagster_code.dags_sync.overlay import deployment_of
from dagster_code.dags_sync.pinned import pinned_tree
from dagster_code.loader import dags_dir_from_env, load_dag_package
from dagster_code.resources import PlatformConfigError, platform_resources


def build_definitions(
    env: Mapping[str, str] | None = None, dags_dir: Path | None = None
) -> Definitions:
    """The DAG package's ``defs`` with platform resources and, unless it sets its own, the
    in-process executor (a 512 MB Fargate task does not fit the multiprocess executor). The
    repository metadata names the DAG deployment served, which pins runs to it."""
    env = os.environ if env is None else env
    resources = platform_resources(env)
    tree = dags_dir or pinned_tree(env) or dags_dir_from_env(env)
    dag_defs = load_dag_package(tree)
    clashing = sorted(set(dag_defs.resources or {}) & set(resources))
    if clashing:
        raise PlatformConfigError(
            f"the DAG package defines platform resource(s) {', '.join(clashing)}: "
            "remove them, the platform provides storage"
        )
    platform = Definitions(
        resources=resources,
        executor=None if dag_defs.executor is not None else in_process_executor,
        metadata={DEPLOYMENT_METADATA_KEY: deployment_of(tree.resolve())},
    )
    return Definitions.merge(dag_defs, platform)
