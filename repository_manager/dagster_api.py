"""A small client of the Dagster webserver's GraphQL API (the same calls against laptop or ECS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests


class DagsterApiError(RuntimeError):
    pass


def _raise_query_errors(response: requests.Response) -> None:
    """A query the schema refuses comes back as 400 with the reason in ``errors``."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return
    if errors:
        raise DagsterApiError(f"the webserver refused the query: {errors[0].get('message')}")


@dataclass(frozen=True)
class DagsterApi:
    url: str
    timeout: float = 10.0

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=self.timeout,
        )
        if response.status_code == 400:
            _raise_query_errors(response)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise DagsterApiError(body["errors"][0].get("message", str(body["errors"])))
        return dict(body["data"])

    def server_info_ok(self) -> bool:
        return requests.get(f"{self.url}/server_info", timeout=self.timeout).ok

    def location_statuses(self) -> dict[str, str]:
        """Location name → ``LOADED``/``LOADING``, or ``ERROR: …`` when its code failed to load."""
        data = self.query(
            """{workspaceOrError{__typename ... on Workspace{locationEntries{
                name loadStatus locationOrLoadError{__typename ... on PythonError{message}}}}}}"""
        )
        statuses: dict[str, str] = {}
        for entry in data["workspaceOrError"].get("locationEntries", []):
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                statuses[entry["name"]] = "ERROR: " + error["message"].strip().splitlines()[-1]
            else:
                statuses[entry["name"]] = entry["loadStatus"]
        return statuses

    def location_hosts(self) -> dict[str, str]:
        """Location name → the host the webserver loads it from (gRPC locations only)."""
        data = self.query(
            """{workspaceOrError{__typename ... on Workspace{locationEntries{
                name displayMetadata{key value}}}}}"""
        )
        hosts: dict[str, str] = {}
        for entry in data["workspaceOrError"].get("locationEntries", []):
            metadata = {m["key"]: m["value"] for m in entry.get("displayMetadata", [])}
            if "host" in metadata:
                hosts[entry["name"]] = metadata["host"]
        return hosts

    def unhealthy_daemons(self) -> list[str]:
        data = self.query(
            "{instance{daemonHealth{allDaemonStatuses{daemonType required healthy}}}}"
        )
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]

    def reload_location(self, name: str) -> str:
        data = self.query(
            """mutation($loc:String!){reloadRepositoryLocation(repositoryLocationName:$loc){
                __typename ... on WorkspaceLocationEntry{name loadStatus}
                ... on PythonError{message}}}""",
            {"loc": name},
        )
        result = data["reloadRepositoryLocation"]
        if result["__typename"] != "WorkspaceLocationEntry":
            raise DagsterApiError(result.get("message", result["__typename"]))
        return str(result["loadStatus"])

    def launch_run(
        self,
        location: str,
        job: str,
        run_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        data = self.query(
            """mutation($params: ExecutionParams!){launchRun(executionParams:$params){
                __typename ... on LaunchRunSuccess{run{runId}}
                ... on PythonError{message} ... on InvalidSubsetError{message}
                ... on RunConfigValidationInvalid{errors{message}}}}""",
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": location,
                        "repositoryName": "__repository__",
                        "jobName": job,
                    },
                    "runConfigData": run_config or {},
                    "executionMetadata": {
                        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
                    },
                }
            },
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise DagsterApiError(f"launchRun returned {result['__typename']}: {result}")
        return str(result["run"]["runId"])

    def run_status(self, run_id: str) -> str:
        data = self.query(
            "query($id:ID!){runOrError(runId:$id){__typename ... on Run{status}}}", {"id": run_id}
        )
        return str(data["runOrError"].get("status", data["runOrError"]["__typename"]))
