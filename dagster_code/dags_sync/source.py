"""Reads deployments from the platform bucket: the same calls against the emulator and AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster_code.dags_sync.manifest import (
    Deployment,
    FileEntry,
    deployment_id_of,
    deployment_key,
    deployments_prefix,
    file_key,
)


class DeploymentSource:
    def __init__(self, s3: Any, bucket: str, location: str) -> None:
        self.s3, self.bucket, self.location = s3, bucket, location

    def newest_after(self, deployment_id: int) -> int | None:
        """The newest deployment id above ``deployment_id``: one LIST when there is none (keys
        sort by id, so S3 lists only what came after)."""
        newest: int | None = None
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=deployments_prefix(self.location),
            StartAfter=deployment_key(self.location, deployment_id),
        )
        for page in pages:
            for item in page.get("Contents", []):
                found = deployment_id_of(item["Key"])
                if found is not None and found > deployment_id:
                    newest = max(newest or 0, found)
        return newest

    def ids_before(self, deployment_id: int, limit: int) -> list[int]:
        """Up to ``limit`` deployment ids below ``deployment_id``, newest first."""
        ids: list[int] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=deployments_prefix(self.location)
        )
        for page in pages:
            for item in page.get("Contents", []):
                found = deployment_id_of(item["Key"])
                if found is not None and found < deployment_id:
                    ids.append(found)
        return sorted(ids, reverse=True)[:limit]

    def get(self, deployment_id: int) -> Deployment:
        body = self.s3.get_object(
            Bucket=self.bucket, Key=deployment_key(self.location, deployment_id)
        )["Body"].read()
        return Deployment.model_validate_json(body)

    def download(self, entry: FileEntry, target: Path) -> None:
        response = self.s3.get_object(
            Bucket=self.bucket,
            Key=file_key(self.location, entry.path),
            VersionId=entry.version_id,
        )
        with target.open("wb") as handle:
            for chunk in response["Body"].iter_chunks(1 << 20):
                handle.write(chunk)
