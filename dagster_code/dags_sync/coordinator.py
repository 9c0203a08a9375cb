"""Pins each run to the DAG deployment its code location served when the run was submitted.

The webserver (or the daemon, for schedules and sensors) submits a run with the workspace it
holds, the code the user saw: its repository metadata names the deployment. The coordinator
tags the run with it and asks dagster-aws's EcsRunLauncher, through the run's
``ecs/container_overrides`` tag, to start the run's task with ``DAGS_DEPLOYMENT`` set.
Without this a run task loads whatever files are newest when it starts (dagster-io/dagster
#18925: runs failing after a hot reload).
"""

from __future__ import annotations

import logging

from dagster import DagsterRun
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from dagster_code.dags_sync.manifest import DEPLOYMENT_METADATA_KEY, pinning_tags

log = logging.getLogger(__name__)


def served_deployment(context: SubmitRunContext) -> str | None:
    origin = context.dagster_run.remote_job_origin
    if origin is None:
        return None
    try:
        location = context.workspace.get_code_location(origin.location_name)
        repository = location.get_repository(origin.repository_origin.repository_name)
    except Exception as error:
        log.warning("cannot read the served DAG deployment: %s", error)
        return None
    value = (repository.repository_snap.metadata or {}).get(DEPLOYMENT_METADATA_KEY)
    text = getattr(value, "value", value)
    return str(text) if text is not None else None


class DeploymentPinningRunCoordinator(QueuedRunCoordinator):
    """:class:`QueuedRunCoordinator` that records the served deployment on every run."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        deployment = served_deployment(context)
        if deployment is not None and DEPLOYMENT_METADATA_KEY not in run.tags:
            self._instance.add_run_tags(run.run_id, pinning_tags(run.tags, deployment))
            refreshed = self._instance.get_run_by_id(run.run_id)
            if refreshed is not None:
                context = SubmitRunContext(refreshed, context.workspace)
        return super().submit_run(context)
