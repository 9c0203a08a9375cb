"""Renders a Dagster workspace from Cloud Map: one gRPC code location per discovered instance.

Works the same against AWS and the emulator (only AWS APIs are used): each Cloud Map service
of the namespace is a code location; its instances' ``AWS_INSTANCE_IPV4``/``AWS_INSTANCE_PORT``
are where the location's code server listens.

A code location's task gets a new address whenever ECS replaces it (a deploy, a crash, a
rollback), so the container entrypoint also starts ``--watch``: it re-renders the file every few
seconds (like a DNS TTL) and, where given a webserver URL, asks the webserver to reload its
workspace. The daemon re-reads the file by itself every 60 s. The watcher loads boto3 only when it
first refreshes, not while the Dagster process it watches over starts.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import yaml


def cloud_map_client() -> Any:
    """DiscoverInstances is served on ``data-servicediscovery``: botocore prefixes the host with
    ``data-``, which breaks a custom endpoint such as the emulator's, so skip the prefix there."""
    import boto3
    from botocore.config import Config

    if os.environ.get("AWS_ENDPOINT_URL"):
        return boto3.client("servicediscovery", config=Config(inject_host_prefix=False))
    return boto3.client("servicediscovery")


def discover_locations(
    client: Any, namespace: str, services: list[str]
) -> dict[str, tuple[str, int]]:
    """{location name: (host, port)} for the first healthy instance of each Cloud Map service."""
    locations: dict[str, tuple[str, int]] = {}
    for service in services:
        instances = client.discover_instances(NamespaceName=namespace, ServiceName=service)[
            "Instances"
        ]
        for instance in sorted(instances, key=lambda i: i["InstanceId"]):
            attributes = instance.get("Attributes", {})
            if "AWS_INSTANCE_IPV4" in attributes and "AWS_INSTANCE_PORT" in attributes:
                locations[service] = (
                    attributes["AWS_INSTANCE_IPV4"],
                    int(attributes["AWS_INSTANCE_PORT"]),
                )
                break
    return locations


def list_services(client: Any, namespace_id: str) -> list[str]:
    response = client.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}]
    )
    return sorted(s["Name"] for s in response["Services"])


def render_workspace(locations: dict[str, tuple[str, int]]) -> str:
    """workspace.yaml text; ``location_name`` is the Cloud Map service name."""
    entries = [
        {"grpc_server": {"host": host, "port": port, "location_name": name}}
        for name, (host, port) in sorted(locations.items())
    ]
    return yaml.safe_dump({"load_from": entries}, sort_keys=False)


def workspace_from_cloud_map(client: Any, namespace: str) -> str:
    namespaces = client.list_namespaces()["Namespaces"]
    match = next((n for n in namespaces if n["Name"] == namespace), None)
    if match is None:
        raise LookupError(
            f"Cloud Map namespace {namespace!r} not found; create it or pass another --namespace"
        )
    return render_workspace(
        discover_locations(client, namespace, list_services(client, match["Id"]))
    )


def write_workspace(text: str, output: str) -> None:
    """Atomic, so a webserver and a daemon sharing a folder never read half a file."""
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{output}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, output)


RELOAD_WORKSPACE = """mutation { reloadWorkspace { __typename ... on Workspace {
    locationEntries { name locationOrLoadError { __typename } } } } }"""


RELOAD_RETRIES = 30


def reload_webserver(url: str) -> list[str]:
    """Reloads the webserver's workspace; returns the locations it could not load."""
    import requests

    response = requests.post(url, json={"query": RELOAD_WORKSPACE}, timeout=30)
    response.raise_for_status()
    workspace = (response.json().get("data") or {}).get("reloadWorkspace") or {}
    return [
        entry["name"]
        for entry in workspace.get("locationEntries", [])
        if (entry.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
    ]


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def watch(
    namespace: str, output: str, interval: float, parent: int, reload_url: str | None
) -> None:
    """Keeps ``output`` current until ``parent`` (the container's main process) is gone.

    Compares with what this watcher last rendered, not with the file: locally the webserver and
    the daemon may share the file, and each must notice the change to act on it.
    """
    client = None
    rendered = _read(output)
    retries = 0
    due = time.monotonic() + interval
    while os.getppid() == parent:
        time.sleep(min(1.0, max(0.0, due - time.monotonic())))
        if time.monotonic() < due:
            continue
        due = time.monotonic() + interval
        try:
            client = client or cloud_map_client()
            text = workspace_from_cloud_map(client, namespace)
            if text != rendered:
                write_workspace(text, output)
                # A new code server may register before it serves: reload again next pass,
                # for up to RELOAD_RETRIES passes (a location whose code is broken stays so).
                failed = reload_webserver(reload_url) if reload_url else []
                retries = retries + 1 if failed else 0
                rendered = "" if failed and retries <= RELOAD_RETRIES else text
                if retries <= 1:
                    print("workspace: code locations moved; reloaded", file=sys.stderr, flush=True)
        except Exception as error:
            print(f"workspace: refresh failed: {error}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Render workspace.yaml from Cloud Map.")
    parser.add_argument("--namespace", required=True, help="Cloud Map namespace name")
    parser.add_argument("--output", required=True, help="where to write workspace.yaml")
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="keep re-rendering every SECONDS"
    )
    parser.add_argument("--parent", type=int, help="with --watch: stop when this pid is gone")
    parser.add_argument("--reload-url", help="with --watch: the webserver's GraphQL URL")
    args = parser.parse_args(argv)
    if args.watch:
        watch(args.namespace, args.output, args.watch, args.parent or os.getppid(), args.reload_url)
        return
    write_workspace(workspace_from_cloud_map(cloud_map_client(), args.namespace), args.output)


if __name__ == "__main__":
    main()
    # The entrypoint starts Dagster once this process has exited: skip the interpreter's
    # teardown, ~0.1 s of freeing boto3's API models.
    sys.stdout.flush()
    os._exit(0)
