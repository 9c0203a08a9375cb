"""The sync agent beside each code server: serve the newest good DAG deployment.

Every interval it asks S3 for deployments newer than the one served (one LIST, nothing else,
when there is none). A new one is staged (unchanged files copied from the current release,
changed ones fetched by version id and checked against their sha256), import-checked in a
subprocess, and only then swapped in and the code server asked to reload (ReloadCode keeps the
server's process and its ECS task). A tree that fails any step is never served: the location
keeps the last good one and reports the failure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from botocore.exceptions import BotoCoreError, ClientError

from dagster_code.dags_sync.check import check_tree
from dagster_code.dags_sync.manifest import (
    MAX_BACKOFF_INTERVALS,
    Deployment,
    SyncStatus,
    status_key,
)
from dagster_code.dags_sync.releases import ReleaseStore, VerificationError
from dagster_code.dags_sync.source import DeploymentSource

log = logging.getLogger("dagster_code.dags_sync")

AUTH_ERRORS = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)


FALLBACK_CANDIDATES = 5
"""How many earlier deployments a starting task tries when the newest one is broken."""
RELOAD_CODE_METHOD = "/api.DagsterApi/ReloadCode"
"""``dagster code-server start``'s reload call. Its request message has no fields (an empty
payload); calling it over plain gRPC keeps Dagster (~100 MB) out of the agent's process."""


def reload_code_server(host: str, port: int, timeout: float = 120) -> None:
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        call = channel.unary_unary(
            RELOAD_CODE_METHOD,
            request_serializer=lambda _: b"",
            response_deserializer=lambda raw: raw,
        )
        call(None, timeout=timeout)


class SyncConfigError(RuntimeError):
    """The agent cannot work as configured (credentials, permissions): say what to fix."""


@dataclass(frozen=True)
class AgentConfig:
    location: str
    bucket: str
    interval: float
    image_dags_dir: Path
    root: Path
    module: str
    task_id: str
    grpc_host: str | None = None
    grpc_port: int | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class SyncAgent:
    def __init__(self, config: AgentConfig, s3: Any) -> None:
        self.config = config
        self.s3 = s3
        self.source = DeploymentSource(s3, config.bucket, config.location)
        self.store = ReleaseStore(config.root)
        self.status: SyncStatus | None = None
        self.reload_pending = False
        self._published: str | None = None
        saved = config.root / "status.json"
        if saved.is_file():
            self.status = SyncStatus.model_validate_json(saved.read_text())

    @property
    def served(self) -> Deployment | None:
        return self.store.current_deployment()

    def start(self) -> Path:
        """Before the code server starts: the newest good deployment, else the image's tree.
        Returns the ``current`` path the code server loads from."""
        try:
            self._check_access()
        except (BotoCoreError, ClientError) as error:
            log.warning("DAG sync: S3 unreachable at start (%s); serving the image's DAGs", error)
        if self.served is None:
            staging, deployment = self.store.seed_from(
                self.config.image_dags_dir, self.config.location
            )
            self.store.activate(staging, f"image-{deployment.content_hash()}")
            self._record(deployment)
        self.poll(reload=False)
        rejected = self.status.rejected_deployment if self.status else None
        served = self.served
        if rejected is not None and (served is None or served.id == 0):
            self._fall_back(rejected)
        self.reload_pending = False
        return self.store.current

    def _check_access(self) -> None:
        try:
            self.source.newest_after(0)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise SyncConfigError(
                    f"DAGSTER_S3_BUCKET={self.config.bucket}: no such bucket; set it to the "
                    "platform bucket (tofu output s3_bucket_name)"
                ) from error
            if code in AUTH_ERRORS:
                raise SyncConfigError(
                    f"cannot list s3://{self.config.bucket}/dags/{self.config.location}/ ({code}): "
                    f"the task role needs s3:ListBucket on that prefix and s3:GetObject under it"
                ) from error
            raise
        except BotoCoreError as error:
            if type(error).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
                raise SyncConfigError(
                    "no AWS credentials for the DAG sync: the task needs a task role"
                ) from error
            raise

    def poll(self, *, reload: bool = True) -> bool:
        """One interval. True when the served tree changed."""
        served = self.served
        current_id = served.id if served else 0
        try:
            newest = self.source.newest_after(current_id)
        except (BotoCoreError, ClientError) as error:
            self._failed(f"S3: {error}")
            return False
        rejected = self.status.rejected_deployment if self.status else None
        if newest is None or newest == rejected:
            self._ok()
            return self._reload_if_pending(reload)
        adopted = self._adopt(newest)
        if adopted:
            self._reload_if_pending(reload)
        return adopted

    def _adopt(self, deployment_id: int) -> bool:
        """Stages, verifies, checks and swaps in one deployment; False (and reported) if any
        step fails, the served tree unchanged."""
        try:
            deployment = self.source.get(deployment_id)
            staging, fetched = self.store.build(deployment, self.source.download)
        except (BotoCoreError, ClientError) as error:
            self._failed(f"S3: {error}")
            return False
        except VerificationError as error:
            self._rejected(deployment_id, str(error))
            return False
        failure = check_tree(staging, self.config.module, image_dags_dir=self.config.image_dags_dir)
        if failure is not None:
            self.store.discard(staging)
            self._rejected(deployment_id, f"deployment {deployment_id}: {failure.one_line()}")
            return False
        self.store.activate(staging, deployment.content_hash())
        log.info("DAG sync: serving deployment %s (%d file(s) fetched)", deployment.id, fetched)
        self._record(deployment)
        self.reload_pending = True
        return True

    def _fall_back(self, rejected: int) -> None:
        """A task starting while the newest deployment is broken serves the newest earlier one
        that passes (as the tasks already running do), not the image's older tree."""
        assert self.status is not None
        error, failed_at = self.status.last_error, self.status.last_error_at
        try:
            earlier = self.source.ids_before(rejected, limit=FALLBACK_CANDIDATES)
        except (BotoCoreError, ClientError) as failure:
            self._failed(f"S3: {failure}")
            return
        for candidate in earlier:
            if self._adopt(candidate):
                self.status.rejected_deployment = rejected
                self.status.last_error, self.status.last_error_at = error, failed_at
                self._save()
                return

    def _reload_if_pending(self, reload: bool) -> bool:
        if not (reload and self.reload_pending and self.config.grpc_port):
            return False
        try:
            reload_code_server(self.config.grpc_host or "127.0.0.1", self.config.grpc_port)
        except grpc.RpcError as error:
            self._failed(f"ReloadCode: {error}")
            return False
        self.reload_pending = False
        return True

    def _record(self, deployment: Deployment) -> None:
        now = _now()
        self.status = SyncStatus(
            location=self.config.location,
            task_id=self.config.task_id,
            deployment=deployment.label,
            synced_at=now,
            checked_at=now,
        )
        self._save()

    def _ok(self) -> None:
        if self.status is None:
            return
        self.status.checked_at = _now()
        self.status.consecutive_failures = 0
        self._save()

    def _failed(self, error: str) -> None:
        log.warning("DAG sync: %s", error)
        if self.status is None:
            return
        self.status.consecutive_failures += 1
        self.status.last_error, self.status.last_error_at = error, _now()
        self._save()

    def _rejected(self, deployment_id: int | None, error: str) -> None:
        log.error("DAG sync: not serving %s", error)
        if self.status is None:
            return
        self.status.rejected_deployment = deployment_id
        self.status.last_error, self.status.last_error_at = error, _now()
        self.status.checked_at = _now()
        self.status.consecutive_failures = 0
        self._save()

    def _save(self) -> None:
        """The local status (read by the health check) every time; S3's only on a change, so
        an idle interval stays one LIST."""
        assert self.status is not None
        self.config.root.mkdir(parents=True, exist_ok=True)
        local = self.config.root / "status.json"
        temporary = local.with_suffix(".tmp")
        temporary.write_text(self.status.model_dump_json(indent=2))
        temporary.replace(local)
        fingerprint = self.status.model_dump_json(exclude={"checked_at", "last_error_at"})
        if fingerprint == self._published:
            return
        try:
            self.s3.put_object(
                Bucket=self.config.bucket,
                Key=status_key(self.config.location, self.config.task_id),
                Body=self.status.model_dump_json().encode(),
                ContentType="application/json",
            )
            self._published = fingerprint
        except (BotoCoreError, ClientError) as error:
            log.warning("DAG sync: could not publish status: %s", error)

    def run(self, stop_when: Any) -> None:
        """Polls until ``stop_when()``; backs off (to 4 intervals) while S3 fails."""
        while not stop_when():
            delay = self.config.interval
            failures = self.status.consecutive_failures if self.status else 0
            if failures:
                delay = self.config.interval * min(2**failures, MAX_BACKOFF_INTERVALS)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not stop_when():
                time.sleep(min(0.2, delay))
            if not stop_when():
                self.poll()
