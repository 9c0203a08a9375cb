"""A Dagster run as a snapshot holds it, read from the webserver's GraphQL API, and launched
again from it (replay) with the same selection, config and tags."""

from __future__ import annotations

from typing import Any

import requests
import yaml

from dagster_code.dags_sync.manifest import (
    CONTAINER_OVERRIDES_TAG,
    DEPLOYMENT_METADATA_KEY,
    IMAGE_DEPLOYMENT,
)
from repository_manager.dagster_api import DagsterApi, DagsterApiError
from repository_manager.snapshot.model import RunShape, SnapshotError

TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")
_ADDED_BY_THE_PLATFORM = ("ecs/", ".dagster/", "dagster/")
"""Tags a launcher, coordinator, daemon or Dagster itself sets on a run (location, failure
reason, sensor, backfill…): not what a replay asks for; partitions are the exception."""
_KEPT = "dagster/partition"
REPLAY_TAG = "dagster-ecs/replay-of"

_RUN = """query($id: ID!) { runOrError(runId: $id) { __typename
  ... on RunNotFoundError { message }
  ... on PythonError { message }
  ... on Run { runId status jobName runConfigYaml
    repositoryOrigin { repositoryLocationName repositoryName }
    assetSelection { path }
    tags { key value }
    eventConnection(afterCursor: null) { events { __typename
      ... on ExecutionStepFailureEvent { stepKey error { message causes { message } } }
      ... on RunFailureEvent { message }
    } } } } }"""


def _api(url: str) -> DagsterApi:
    return DagsterApi(url, timeout=30)


def read_run(webserver_url: str, run_id: str, env: str) -> RunShape:
    try:
        data = _api(webserver_url).query(_RUN, {"id": run_id})
    except (requests.RequestException, DagsterApiError) as error:
        raise SnapshotError(
            f"cannot read run {run_id} from environment {env}'s Dagster at {webserver_url}: {error}"
        ) from None
    run = data["runOrError"]
    if run["__typename"] != "Run":
        raise SnapshotError(
            f"environment {env} has no run {run_id} ({run['__typename']}): "
            "`make runs`, or the Runs page of the UI, lists them"
        )
    tags = {t["key"]: t["value"] for t in run["tags"]}
    origin = run.get("repositoryOrigin") or {}
    selection = run.get("assetSelection")
    return RunShape(
        run_id=run["runId"],
        status=run["status"],
        location=origin.get("repositoryLocationName", ""),
        repository=origin.get("repositoryName") or "__repository__",
        job=run["jobName"],
        asset_selection=[a["path"] for a in selection] if selection else None,
        run_config=run["runConfigYaml"],
        tags={
            k: v
            for k, v in sorted(tags.items())
            if not k.startswith(_ADDED_BY_THE_PLATFORM)
            and k not in (DEPLOYMENT_METADATA_KEY, CONTAINER_OVERRIDES_TAG, REPLAY_TAG)
        },
        dag_deployment=tags.get(DEPLOYMENT_METADATA_KEY, IMAGE_DEPLOYMENT),
        failure=_failure(run["eventConnection"]["events"]),
    )


def _failure(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        if event.get("__typename") == "ExecutionStepFailureEvent":
            error = event.get("error") or {}
            innermost = (error.get("causes") or [error])[-1]
            message = (innermost.get("message") or "").strip()
            first = message.splitlines()[0] if message else "(no message)"
            return f"{event.get('stepKey')}: {first}"
    for event in events:
        if event.get("__typename") == "RunFailureEvent":
            return f"run: {event.get('message', '').strip()}"
    return None


def launch(webserver_url: str, run: RunShape, tags: dict[str, str]) -> str:
    """Launches ``run`` again through the webserver (so the same run coordinator and
    EcsRunLauncher start it) with ``tags``; returns the new run's id."""
    selector: dict[str, Any] = {
        "repositoryLocationName": run.location,
        "repositoryName": run.repository,
        "jobName": run.job,
    }
    if run.asset_selection is not None:
        selector["assetSelection"] = [{"path": path} for path in run.asset_selection]
    try:
        data = _launch(webserver_url, selector, run, tags)
    except (requests.RequestException, DagsterApiError) as error:
        raise SnapshotError(f"the replay could not be launched: {error}") from None
    result = data["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        detail = result.get("message") or result.get("errors") or result["__typename"]
        raise SnapshotError(f"the replay could not be launched: {detail}")
    return str(result["run"]["runId"])


def _launch(
    webserver_url: str, selector: dict[str, Any], run: RunShape, tags: dict[str, str]
) -> dict[str, Any]:
    return _api(webserver_url).query(
        """mutation($params: ExecutionParams!){launchRun(executionParams:$params){
            __typename ... on LaunchRunSuccess{run{runId}} ... on Error{message}
            ... on RunConfigValidationInvalid{errors{message}}}}""",
        {
            "params": {
                "selector": selector,
                "runConfigData": yaml.safe_load(run.run_config) or {},
                "executionMetadata": {
                    "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]
                },
            }
        },
    )
