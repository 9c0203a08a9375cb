"""A run task's DAG tree: exactly the deployment its run was launched with.

The run coordinator tags each run with the deployment its code location served when the run
was submitted, and the run launcher passes it to the run's ECS task as ``DAGS_DEPLOYMENT``.
The task then rebuilds that deployment's tree from its manifest (object versions, not the
latest files), so a deployment that lands meanwhile changes nothing for the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import boto3

from dagster_code.dags_sync.manifest import DEPLOYMENT_ENV, IMAGE_DEPLOYMENT
from dagster_code.dags_sync.releases import ReleaseStore
from dagster_code.dags_sync.settings import required_bucket, sync_root
from dagster_code.dags_sync.source import DeploymentSource


def pinned_tree(env: Mapping[str, str]) -> Path | None:
    """The pinned deployment's tree, fetched once per task; None when the run is not pinned
    to an S3 deployment (it then loads the image's own tree)."""
    raw = env.get(DEPLOYMENT_ENV, "").strip()
    if not raw or raw == IMAGE_DEPLOYMENT:
        return None
    if not raw.isdigit():
        raise ValueError(f"{DEPLOYMENT_ENV}={raw!r}: expected a deployment id")
    location = env.get("DAGSTER_REPO_NAME") or "main"
    source = DeploymentSource(boto3.client("s3"), required_bucket(env), location)
    deployment = source.get(int(raw))
    store = ReleaseStore(sync_root(env, location) / "pinned")
    release = store.releases / deployment.content_hash()
    if release.is_dir():
        return release
    staging, _ = store.build(deployment, source.download)
    return store.place(staging, deployment.content_hash())
