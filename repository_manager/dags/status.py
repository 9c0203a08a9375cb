"""What each running code location task serves: its sync agent's report beside ECS's view."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dagster_code.dags_sync.manifest import SyncStatus, status_key
from repository_manager.dags import history
from repository_manager.dags.errors import DagsError

SERVICE_PREFIX = "cl-"


@dataclass(frozen=True)
class TaskSync:
    task_id: str
    health: str
    report: SyncStatus | None


@dataclass(frozen=True)
class LocationSync:
    location: str
    latest: int | None
    tasks: list[TaskSync]


def location_names(ecs: Any, cluster: str) -> list[str]:
    names: list[str] = []
    for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
        for arn in page.get("serviceArns", []):
            service = arn.rsplit("/", 1)[-1]
            if service.startswith(SERVICE_PREFIX):
                names.append(service.removeprefix(SERVICE_PREFIX))
    return sorted(names)


def _report(s3: Any, bucket: str, location: str, task_id: str) -> SyncStatus | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=status_key(location, task_id))["Body"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return SyncStatus.model_validate_json(body.read())


def running_tasks(ecs: Any, cluster: str, location: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(
        cluster=cluster, serviceName=f"{SERVICE_PREFIX}{location}", desiredStatus="RUNNING"
    ).get("taskArns", [])
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns).get("tasks", [])
    return [task for task in tasks if task.get("lastStatus") == "RUNNING"]


def location_sync(s3: Any, ecs: Any, bucket: str, cluster: str, location: str) -> LocationSync:
    ids = history.deployment_ids(s3, bucket, location)
    tasks = []
    for task in running_tasks(ecs, cluster, location):
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        tasks.append(
            TaskSync(
                task_id, task.get("healthStatus", "UNKNOWN"), _report(s3, bucket, location, task_id)
            )
        )
    return LocationSync(location, ids[-1] if ids else None, tasks)


def wait_served(
    s3: Any,
    ecs: Any,
    bucket: str,
    cluster: str,
    location: str,
    deployment_id: int,
    timeout: float,
) -> float:
    """Seconds until every running task of the location serves the deployment. A task that
    rejects it (a file that fails to import) ends the wait with its error."""
    began = time.monotonic()
    while True:
        sync = location_sync(s3, ecs, bucket, cluster, location)
        reports = [task.report for task in sync.tasks]
        for report in reports:
            if report is not None and report.rejected_deployment == deployment_id:
                raise DagsError(
                    f"{location} rejected deployment {deployment_id} and keeps serving "
                    f"{report.deployment}: {report.last_error}"
                )
        if sync.tasks and all(
            r is not None and r.deployment == str(deployment_id) for r in reports
        ):
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            serving = sorted({r.deployment for r in reports if r is not None}) or ["nothing"]
            raise DagsError(
                f"{location}: deployment {deployment_id} not served after {timeout:.0f} s "
                f"(tasks serve {', '.join(serving)}); see `make dags-status`"
            )
        time.sleep(0.25)
