"""The task metadata endpoint v4's answers, built from the runtime's task state (what
Fargate's ``${ECS_CONTAINER_METADATA_URI_V4}`` and ``/task`` return)."""

from __future__ import annotations

import time
from typing import Any

from ecs_local.task_state import TaskState, iso


def log_options(log_config: dict[str, Any], container: str, task_id: str) -> Any:
    """The container's log options as Fargate reports them: awslogs adds the stream it writes
    (``prefix/container/task id``)."""
    options: dict[str, Any] = log_config.get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    if log_config.get("logDriver") != "awslogs" or not prefix:
        return log_config.get("options")
    return {**options, "awslogs-stream": f"{prefix}/{container}/{task_id}"}


def container_metadata(task: TaskState, name: str) -> dict[str, Any]:
    td = task.task_definition
    definition = next(d for d in td["containerDefinitions"] if d["name"] == name)
    container = task.containers[name]
    snap = task.snapshot
    log_config = definition.get("logConfiguration") or {}
    return {
        "DockerId": container.handle.runtime_id if container.handle else "",
        "Name": name,
        "DockerName": f"ecs-{td['family']}-{td['revision']}-{name}",
        "Image": definition.get("image"),
        "ImageID": container.image_digest,
        "Labels": {
            "com.amazonaws.ecs.cluster": snap["clusterArn"],
            "com.amazonaws.ecs.container-name": name,
            "com.amazonaws.ecs.task-arn": task.arn,
            "com.amazonaws.ecs.task-definition-family": td["family"],
            "com.amazonaws.ecs.task-definition-version": str(td["revision"]),
        },
        "DesiredStatus": "RUNNING" if task.status in ("PENDING", "RUNNING") else "STOPPED",
        "KnownStatus": container.status,
        "Limits": {"CPU": definition.get("cpu", 0), "Memory": definition.get("memory", 0)},
        "CreatedAt": iso(task.created),
        "StartedAt": iso(container.started_at),
        "Type": "NORMAL",
        "LaunchType": snap.get("launchType") or "FARGATE",
        "ContainerARN": next(
            (c["containerArn"] for c in snap["containers"] if c["name"] == name), ""
        ),
        "LogDriver": log_config.get("logDriver"),
        "LogOptions": log_options(log_config, name, task.id),
        "Networks": [
            {
                "NetworkMode": td.get("networkMode") or "awsvpc",
                "IPv4Addresses": [snap["address"]],
                "AttachmentIndex": 0,
                "MACAddress": snap["eni"].get("macAddress", ""),
                "IPv4SubnetCIDRBlock": "127.0.0.0/8",
                "PrivateDNSName": snap["eni"].get("privateDnsName", ""),
                "SubnetGatewayIpv4Address": "127.0.0.1/8",
            }
        ],
    }


def task_metadata(task: TaskState) -> dict[str, Any]:
    td = task.task_definition
    group = task.snapshot.get("group") or ""
    service = {"ServiceName": group[len("service:") :]} if group.startswith("service:") else {}
    return {
        **service,
        "Cluster": task.snapshot["clusterArn"],
        "TaskARN": task.arn,
        "Family": td["family"],
        "Revision": str(td["revision"]),
        "DesiredStatus": "RUNNING" if task.status in ("PENDING", "RUNNING") else "STOPPED",
        "KnownStatus": task.status,
        "Limits": {
            "CPU": int(td.get("cpu") or 256) / 1024,
            "Memory": int(td.get("memory") or 512),
        },
        "PullStartedAt": iso(task.pull_started_at),
        "PullStoppedAt": iso(task.pull_stopped_at),
        "AvailabilityZone": f"{task.snapshot['region']}a",
        "LaunchType": task.snapshot.get("launchType") or "FARGATE",
        "Containers": [container_metadata(task, name) for name in task.containers],
        "ClockDrift": {
            "ClockErrorBound": 0.5,
            "ReferenceTimestamp": iso(time.time()),
            "ClockSynchronizationStatus": "SYNCHRONIZED",
        },
        "EphemeralStorageMetrics": {"Utilized": 0, "Reserved": 20496},
    }
