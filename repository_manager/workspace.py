"""Renders a Dagster workspace from Cloud Map: one gRPC code location per discovered instance.

Works the same against AWS and the emulator (only AWS APIs are used): each Cloud Map service
of the namespace is a code location; its instances' ``AWS_INSTANCE_IPV4``/``AWS_INSTANCE_PORT``
are where the location's code server listens.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import yaml
from botocore.config import Config


def cloud_map_client() -> Any:
    """DiscoverInstances is served on ``data-servicediscovery``: botocore prefixes the host with
    ``data-``, which breaks a custom endpoint such as the emulator's, so skip the prefix there."""
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Render workspace.yaml from Cloud Map.")
    parser.add_argument("--namespace", required=True, help="Cloud Map namespace name")
    parser.add_argument("--output", required=True, help="where to write workspace.yaml")
    args = parser.parse_args(argv)
    write_workspace(workspace_from_cloud_map(cloud_map_client(), args.namespace), args.output)


if __name__ == "__main__":
    main()
