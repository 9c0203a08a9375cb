"""The snapshot file: what an environment runs, never a secret value, a credential or data.

Secrets appear by the *name* of their source (``valueFrom``), roles by their policy documents,
DAG deployments by their manifest and the DAG files themselves (code, not data). ``contents``
lists everything a snapshot holds, computed from the fields so it cannot drift from them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field


def secret_arn(source: str) -> str:
    """A secret's ARN from a ``valueFrom``, without the JSON key, version stage and version id
    it may add (``arn:aws:secretsmanager:region:account:secret:name-abc123:key::``)."""
    return ":".join(source.split(":")[:7])


SNAPSHOT_FORMAT = 1
"""Bumped whenever a field changes meaning; a snapshot of another format is refused."""


class SnapshotError(RuntimeError):
    """One line saying why a snapshot could not be taken, read or compared, and what to do."""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerShape(_Shape):
    name: str
    image: str
    command: list[str] = Field(default_factory=list)
    entry_point: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    """Variable name → where its value comes from (a secret's or parameter's ARN), never the
    value."""
    ports: list[int] = Field(default_factory=list)
    health_check: dict[str, Any] | None = None
    essential: bool = True
    log_group: str | None = None


class TaskDefinitionShape(_Shape):
    family: str
    revision: int
    cpu: str | None = None
    memory: str | None = None
    cpu_architecture: str = "X86_64"
    network_mode: str | None = None
    task_role: str | None = None
    execution_role: str | None = None
    containers: list[ContainerShape]


class ScalingPolicyShape(_Shape):
    name: str
    metric: str
    target: float


class ScalingShape(_Shape):
    min_capacity: int
    max_capacity: int
    policies: list[ScalingPolicyShape] = Field(default_factory=list)


class ServiceShape(_Shape):
    name: str
    desired_count: int
    launch_type: str | None = None
    minimum_healthy_percent: int | None = None
    maximum_percent: int | None = None
    circuit_breaker: bool = False
    rollback: bool = False
    cloud_map: list[str] = Field(default_factory=list)
    """``namespace/service`` of each registry the service registers its tasks in."""
    scaling: ScalingShape | None = None
    task_definition: TaskDefinitionShape


class RoleShape(_Shape):
    name: str
    arn: str
    trust: dict[str, Any]
    inline: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attached: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Managed policy name → its default version's document."""


class DagFile(_Shape):
    path: str
    sha256: str
    content: str
    """The file's bytes, base64: DAG files are code, and a restore deploys exactly these."""


class LocationShape(_Shape):
    name: str
    image: str
    git_commit: str | None = None
    registry: dict[str, Any] | None = None
    """``repos/{name}/config.yml`` as registered; ``None`` for the platform's own location."""
    dag_deployment: str = "image"
    """The deployment its tasks serve (an id), or ``image`` before any ``deploy-dags``."""
    served_by: list[str] = Field(default_factory=list)
    """The running tasks that reported serving it."""
    dag_release: str | None = None
    """The content hash of the served tree: equal files, equal release, in any environment."""
    dag_files: list[DagFile] = Field(default_factory=list)
    dagster_versions: dict[str, str] | None = None
    """Each Dagster library its code server runs, with its version (as the webserver sees it);
    ``None`` where that is unknown: no webserver was asked, or the location was not loaded."""


class RunShape(_Shape):
    """One Dagster run, enough to launch it again: what it selected, its config and tags, the
    DAG release it ran on, and how it ended."""

    run_id: str
    status: str
    location: str
    repository: str = "__repository__"
    job: str
    asset_selection: list[list[str]] | None = None
    """Asset key paths of an asset run; ``None`` for a whole job."""
    run_config: str = ""
    """The run config as YAML, as Dagster shows it."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The run's own tags; those its launcher and coordinator add are left out."""
    dag_deployment: str = "image"
    dag_release: str | None = None
    """The content hash of the DAG deployment the run was pinned to (``None``: the image's)."""
    git_commit: str | None = None
    """The commit its location's image was built from when the snapshot was taken (``None``
    for the platform's own location)."""
    failure: str | None = None
    """The first failed step and its error's first line, for a run that failed."""


class InstanceShape(_Shape):
    """The Dagster instance, as the webserver reports it."""

    dagster_version: str
    run_launcher: dict[str, Any] = Field(default_factory=dict)
    """``module``, ``class`` and ``config`` as ``dagster.yaml`` writes them (secret-looking
    values and ``NAME=value`` values left out)."""
    run_coordinator: dict[str, Any] = Field(default_factory=dict)


class EnvironmentShape(_Shape):
    name: str
    region: str
    account: str
    cluster: str
    bucket: str
    endpoint: str | None = None


class Snapshot(_Shape):
    format: int = SNAPSHOT_FORMAT
    taken_at: datetime
    tool_version: str
    environment: EnvironmentShape
    services: list[ServiceShape]
    roles: list[RoleShape]
    locations: list[LocationShape]
    instance: InstanceShape | None = None
    """``None`` when the snapshot was taken without a webserver to ask."""
    run: RunShape | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def contents(self) -> list[str]:
        lines = [
            f"service {s.name}: task definition {s.task_definition.family}:"
            f"{s.task_definition.revision}, {len(s.task_definition.containers)} container(s), "
            f"scaling {'yes' if s.scaling else 'none'}, "
            f"Cloud Map {', '.join(s.cloud_map) or 'none'}"
            for s in self.services
        ]
        lines += [
            f"role {r.name}: trust policy, {len(r.inline)} inline and {len(r.attached)} managed "
            "policy document(s)"
            for r in self.roles
        ]
        lines += [
            f"location {loc.name}: image {loc.image}, DAG deployment {loc.dag_deployment} "
            f"({len(loc.dag_files)} file(s)), registry entry {'yes' if loc.registry else 'none'}"
            for loc in self.locations
        ]
        if self.instance is not None:
            launcher = self.instance.run_launcher.get("class", "unknown")
            lines.append(
                f"instance: Dagster {self.instance.dagster_version}, run launcher {launcher}, "
                "Dagster library versions per location"
            )
        if self.run is not None:
            lines.append(
                f"run {self.run.run_id}: job {self.run.job} of location {self.run.location}, "
                f"{self.run.status}, DAG deployment {self.run.dag_deployment}"
            )
        lines.append("never held: secret values, credentials, data objects")
        return lines

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        try:
            raw = path.read_text()
        except OSError as error:
            raise SnapshotError(f"cannot read snapshot {path}: {error.strerror}") from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise SnapshotError(f"{path} is not a snapshot (not JSON)") from None
        found = document.get("format") if isinstance(document, dict) else None
        if found != SNAPSHOT_FORMAT:
            raise SnapshotError(
                f"{path} is snapshot format {found}; this dagster-ecs reads format "
                f"{SNAPSHOT_FORMAT}: take the snapshot again with this version"
            )
        document.pop("contents", None)
        try:
            return cls.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise SnapshotError(
                f"{path} is not a valid snapshot: {where}: {first['msg']}"
            ) from None
