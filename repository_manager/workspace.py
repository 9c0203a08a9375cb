"""Renders a Dagster workspace from Cloud Map: one gRPC code location per discovered instance.

Works the same against AWS and the emulator (only AWS APIs are used): each Cloud Map service
of the namespace is a code location; its instances' ``AWS_INSTANCE_IPV4``/``AWS_INSTANCE_PORT``
are where the location's code server listens.

A code location's task gets a new address whenever ECS replaces it (a deploy, a crash, a
rollback), so the container entrypoint also starts ``--watch``: it re-renders the file every few
seconds (like a DNS TTL). The webserver (``dagster_code.webserver``) refreshes when the file
changes; the daemon re-reads it by itself every 60 s. The watcher loads boto3 only when it
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


def _accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def discover_locations(
    client: Any, namespace: str, services: list[str]
) -> dict[str, tuple[str, int]]:
    """{location name: (host, port)}: per Cloud Map service, the first instance that accepts a
    connection, else the first one listed (during a rollout a service has the old task's
    instance beside the new one's, and either may be gone or not serving yet)."""
    locations: dict[str, tuple[str, int]] = {}
    for service in services:
        instances = client.discover_instances(NamespaceName=namespace, ServiceName=service)[
            "Instances"
        ]
        addresses = [
            (i["Attributes"]["AWS_INSTANCE_IPV4"], int(i["Attributes"]["AWS_INSTANCE_PORT"]))
            for i in sorted(instances, key=lambda i: i["InstanceId"])
            if {"AWS_INSTANCE_IPV4", "AWS_INSTANCE_PORT"} <= set(i.get("Attributes", {}))
        ]
        if len(addresses) > 1:
            addresses.sort(key=lambda address: not _accepts(*address))
        if addresses:
            locations[service] = addresses[0]
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


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def watch(namespace: str, output: str, interval: float, parent: int) -> None:
    """Keeps ``output`` current until ``parent`` (the container's main process) is gone.

    Compares with what this watcher last rendered, not with the file: locally the webserver and
    the daemon may share the file, and each must notice the change to act on it.
    """
    client = None
    rendered = _read(output)
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
                rendered = text
                _say("code locations moved")
        except Exception as error:
            _say(f"refresh failed: {error}")


def _say(message: str) -> None:
    print(f"workspace: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Render workspace.yaml from Cloud Map.")
    parser.add_argument("--namespace", required=True, help="Cloud Map namespace name")
    parser.add_argument("--output", required=True, help="where to write workspace.yaml")
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="keep re-rendering every SECONDS"
    )
    parser.add_argument("--parent", type=int, help="with --watch: stop when this pid is gone")
    args = parser.parse_args(argv)
    if args.watch:
        watch(args.namespace, args.output, args.watch, args.parent or os.getppid())
        return
    write_workspace(workspace_from_cloud_map(cloud_map_client(), args.namespace), args.output)


if __name__ == "__main__":
    main()
    # The entrypoint starts Dagster once this process has exited: skip the interpreter's
    # teardown, ~0.1 s of freeing boto3's API models.
    sys.stdout.flush()
    os._exit(0)
