"""Prints the task's own private IPv4 address, read from the ECS task metadata endpoint (v4).

The image entrypoint uses it where tasks share one host (the local image sets
``DAGSTER_ECS_BIND_TASK_ADDRESS=1``): a server told to listen on every address (``0.0.0.0``)
listens on its task's address instead, which is all ``0.0.0.0`` reaches inside a Fargate
task's own network namespace. Nothing then listens beyond loopback on a laptop.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def task_address(metadata_uri: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(metadata_uri, timeout=timeout) as response:
        container = json.load(response)
    for network in container.get("Networks", []):
        for address in network.get("IPv4Addresses", []):
            return str(address)
    raise LookupError("the task metadata names no IPv4 address")


def main() -> int:
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not uri:
        print("task_address: ECS_CONTAINER_METADATA_URI_V4 is not set", file=sys.stderr)
        return 1
    try:
        print(task_address(uri))
    except (OSError, ValueError, LookupError) as error:
        print(f"task_address: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
