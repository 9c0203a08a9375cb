"""The S3 layout of DAG deployments and the typed documents stored there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath

from pydantic import BaseModel, Field, field_validator

DEPLOYMENT_METADATA_KEY = "dagster-ecs/dags-deployment"
"""The repository metadata (and run tag) naming the deployment a code server serves."""
IMAGE_DEPLOYMENT = "image"
"""What a location serves before its first ``deploy-dags``: the DAG files baked in its image."""
IMAGE_DIR_ENV = "DAGS_IMAGE_DIR"
"""The checkout folder a synced tree replaces: the entrypoint keeps ``DAGS_DIR``'s image value
here when it points ``DAGS_DIR`` at the synced tree."""
MANIFEST_FILE = ".deployment.json"
"""Written into every release tree: which deployment it holds."""
DEPLOYMENT_ENV = "DAGS_DEPLOYMENT"
"""Set on a run's task: the deployment whose tree the run loads."""
CONTAINER_OVERRIDES_TAG = "ecs/container_overrides"
"""The run tag dagster-aws's EcsRunLauncher reads container overrides from."""


def pinning_tags(tags: Mapping[str, str], deployment: str) -> dict[str, str]:
    """The tags that pin a run to ``deployment``: the deployment's name, and a container
    override that sets :data:`DEPLOYMENT_ENV` on the run's task (other overrides kept)."""
    overrides = json.loads(tags.get(CONTAINER_OVERRIDES_TAG) or "{}")
    environment = [e for e in overrides.get("environment", []) if e.get("name") != DEPLOYMENT_ENV]
    overrides["environment"] = [*environment, {"name": DEPLOYMENT_ENV, "value": deployment}]
    return {
        DEPLOYMENT_METADATA_KEY: deployment,
        CONTAINER_OVERRIDES_TAG: json.dumps(overrides),
    }


def location_prefix(location: str) -> str:
    return f"dags/{location}/"


def deployments_prefix(location: str) -> str:
    return f"{location_prefix(location)}.deployments/"


def deployment_key(location: str, deployment_id: int) -> str:
    return f"{deployments_prefix(location)}{deployment_id:08d}.json"


def deployment_id_of(key: str) -> int | None:
    name = PurePosixPath(key).name
    stem = name.removesuffix(".json")
    return int(stem) if name.endswith(".json") and stem.isdigit() else None


def file_key(location: str, path: str) -> str:
    return f"{location_prefix(location)}{path}"


def status_key(location: str, task_id: str) -> str:
    """Where a task reports what it serves: under its location's own ``repos/{location}/``,
    which its role may write (``dags/`` is the control plane's)."""
    return f"repos/{location}/dags-status/{task_id}.json"


class FileEntry(BaseModel):
    path: str
    version_id: str
    sha256: str
    size: int

    @field_validator("path")
    @classmethod
    def _relative(cls, path: str) -> str:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or path.startswith("."):
            raise ValueError(f"{path!r} is not a relative path inside the DAG directory")
        return path


class Deployment(BaseModel):
    """One ``deploy-dags`` (or rollback): the whole tree, by version id."""

    location: str
    id: int = Field(ge=0)
    """0 is the image's own tree (:data:`IMAGE_DEPLOYMENT`), before any ``deploy-dags``."""
    created_at: datetime
    git_commit: str | None = None
    rolled_back_to: int | None = None
    """For a rollback: the deployment whose files this one restores."""
    files: list[FileEntry]

    def content_hash(self) -> str:
        """Names a release tree: equal file contents give the same release."""
        listing = sorted((entry.path, entry.sha256) for entry in self.files)
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return IMAGE_DEPLOYMENT if self.id == 0 else str(self.id)

    def by_path(self) -> dict[str, FileEntry]:
        return {entry.path: entry for entry in self.files}


class ImportFailure(BaseModel):
    """Why a tree would not load: the file and line in the DAG tree, and the error."""

    file: str | None = None
    line: int | None = None
    error: str

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        where = where or (f"{self.file}: " if self.file else "")
        return f"{where}{self.error}"


MAX_BACKOFF_INTERVALS = 4
"""While S3 fails, the agent waits 2, then 4 intervals between syncs, never longer."""


class SyncStatus(BaseModel):
    """What a code location task serves, as its sync agent last saw it."""

    location: str
    task_id: str
    deployment: str
    """A deployment id, or ``image`` before the first deployment."""
    synced_at: datetime
    checked_at: datetime
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    rejected_deployment: int | None = None
    """The newest deployment that failed verification or import, still not served."""

    @property
    def state(self) -> str:
        if self.consecutive_failures:
            return "degraded"
        if self.rejected_deployment is not None:
            return "rejected"
        return "serving"
