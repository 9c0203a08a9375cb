"""The deployments of a location, as stored in the bucket."""

from __future__ import annotations

from typing import Any

from dagster_code.dags_sync.manifest import Deployment, deployment_id_of, deployments_prefix
from dagster_code.dags_sync.source import DeploymentSource


def deployment_ids(s3: Any, bucket: str, location: str) -> list[int]:
    ids: list[int] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=deployments_prefix(location)
    )
    for page in pages:
        for item in page.get("Contents", []):
            found = deployment_id_of(item["Key"])
            if found is not None:
                ids.append(found)
    return sorted(ids)


def latest(s3: Any, bucket: str, location: str) -> Deployment | None:
    ids = deployment_ids(s3, bucket, location)
    return DeploymentSource(s3, bucket, location).get(ids[-1]) if ids else None


def get(s3: Any, bucket: str, location: str, deployment_id: int) -> Deployment:
    return DeploymentSource(s3, bucket, location).get(deployment_id)
