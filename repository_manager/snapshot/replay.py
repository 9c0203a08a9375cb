"""Replay: a snapshot's run launched again on the dev stack, through the same webserver, run
coordinator and EcsRunLauncher, pinned to the local deployment of the DAG release it ran on
(or, with ``latest``, on what the location serves now: has a fix landed?)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from dagster_code.dags_sync.manifest import IMAGE_DEPLOYMENT, pinning_tags
from repository_manager.dags import history
from repository_manager.dagster_api import DagsterApi, DagsterApiError
from repository_manager.repos.registry import Registry
from repository_manager.snapshot.model import RunShape, Snapshot, SnapshotError
from repository_manager.snapshot.runs import REPLAY_TAG, TERMINAL, launch, read_run


@dataclass(frozen=True)
class Replayed:
    production: RunShape
    here: RunShape

    @property
    def same(self) -> bool:
        return (self.production.status, self.production.failure) == (
            self.here.status,
            self.here.failure,
        )


def the_run(snapshot: Snapshot, run_id: str | None) -> RunShape:
    run = snapshot.run
    if run is None:
        raise SnapshotError(
            "the snapshot holds no run: take it with `make snapshot ENV=… RUN_ID=…`"
        )
    if run_id is not None and run_id != run.run_id:
        raise SnapshotError(
            f"the snapshot holds run {run.run_id}, not {run_id}: take it again with RUN_ID={run_id}"
        )
    return run


def local_deployment(s3: Any, bucket: str, run: RunShape) -> str:
    """The id of this stack's deployment holding the run's DAG release, or ``image`` for a run
    on the image's own DAGs, once this stack's image of the location is built from the same
    commit."""
    if run.dag_release is None:
        _check_same_commit(s3, bucket, run)
        return IMAGE_DEPLOYMENT
    for deployment_id in reversed(history.deployment_ids(s3, bucket, run.location)):
        if history.get(s3, bucket, run.location, deployment_id).content_hash() == run.dag_release:
            return str(deployment_id)
    raise SnapshotError(
        f"run {run.run_id} ran on DAG release {run.dag_release} of {run.location}, which this "
        "stack has never deployed: restore the snapshot first (`make dev SNAPSHOT=…`)"
    )


def _check_same_commit(s3: Any, bucket: str, run: RunShape) -> None:
    entry = Registry(s3, bucket).get(run.location)
    problem = image_mismatch(run, entry[0].commit if entry else None)
    if problem is not None:
        raise SnapshotError(problem)


def image_mismatch(run: RunShape, here: str | None) -> str | None:
    """Why this stack's image of the run's location is not the one it ran on (``here``: the
    commit registered here), or None when it is (or, for the platform's own location, cannot
    be told)."""
    if run.git_commit is None or here == run.git_commit:
        return None
    where = f"is at commit {here[:12]}" if here else "is not registered"
    return (
        f"run {run.run_id} ran on {run.location}'s image of commit {run.git_commit[:12]}, "
        f"and {run.location} here {where}: restore the snapshot first (`make dev "
        "SNAPSHOT=…`), or replay on what it serves now with --latest"
    )


def replay(
    run: RunShape,
    webserver_url: str,
    s3: Any,
    bucket: str,
    *,
    latest: bool,
    timeout: float,
    progress: Callable[[str], None],
) -> Replayed:
    tags = {**run.tags, REPLAY_TAG: run.run_id}
    if not latest:
        pinned = local_deployment(s3, bucket, run)
        tags.update(pinning_tags({}, pinned))
        if pinned == IMAGE_DEPLOYMENT:
            commit = f" of commit {run.git_commit[:12]}" if run.git_commit else ""
            progress(f"pinned to the image's own DAGs{commit}")
        else:
            progress(f"pinned to deployment {pinned} (release {run.dag_release})")
    run_id = launch(webserver_url, run, tags)
    progress(f"launched run {run_id}")
    status = _wait_ended(DagsterApi(webserver_url), run_id, timeout)
    here = read_run(webserver_url, run_id, "dev")
    progress(f"run {run_id} ended {status}")
    return Replayed(run, here)


def _wait_ended(api: DagsterApi, run_id: str, timeout: float) -> str:
    began = time.monotonic()
    while True:
        try:
            status = api.run_status(run_id)
        except (requests.RequestException, DagsterApiError) as error:
            raise SnapshotError(f"lost the dev stack's webserver: {error}") from None
        if status in TERMINAL:
            return status
        if time.monotonic() - began > timeout:
            raise SnapshotError(
                f"replay run {run_id} not finished after {timeout:.0f} s (status {status}); "
                "see the Runs page"
            )
        time.sleep(0.5)
