"""The awslogs log driver: container output to CloudWatch Logs.

Streams are named as on ECS: ``prefix/container-name/task-id``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

MAX_BATCH_BYTES = 900_000
MAX_BATCH_EVENTS = 10_000


@dataclass(frozen=True)
class AwsLogsTarget:
    group: str
    stream: str
    region: str
    create_group: bool


def target_for(
    definition: dict[str, Any], task_id: str, default_region: str
) -> AwsLogsTarget | None:
    config = definition.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    name = definition["name"]
    stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
    return AwsLogsTarget(
        group=options["awslogs-group"],
        stream=stream,
        region=options.get("awslogs-region", default_region),
        create_group=str(options.get("awslogs-create-group", "false")).lower() == "true",
    )


def prepare(client: Any, target: AwsLogsTarget) -> None:
    """Creates the stream (and the group with awslogs-create-group); a missing group without it
    fails the task as on ECS. Only the calls the awslogs driver makes with the execution role
    (logs:CreateLogStream, and logs:CreateLogGroup when asked to), so IAM decides as on AWS."""
    if target.create_group:
        with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_group(logGroupName=target.group)
    try:
        client.create_log_stream(logGroupName=target.group, logStreamName=target.stream)
    except client.exceptions.ResourceAlreadyExistsException:
        return
    except client.exceptions.ResourceNotFoundException:
        raise LookupError(
            "ResourceInitializationError: failed to validate logger args: "
            f"The specified log group does not exist: {target.group}"
        ) from None


def ship(client: Any, target: AwsLogsTarget, path: str, offset: int, final: bool) -> int:
    """Sends the complete lines after ``offset`` (all when ``final``); returns the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    if not final:
        data = data[: data.rfind(b"\n") + 1]
    if not data:
        return offset
    now = int(time.time() * 1000)
    events: list[dict[str, Any]] = []
    size = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line:
            # Docker's awslogs driver drops empty lines; CloudWatch rejects empty messages,
            # and one would fail the whole batch.
            continue
        events.append({"timestamp": now, "message": line})
        size += len(line) + 26
        if size >= MAX_BATCH_BYTES or len(events) >= MAX_BATCH_EVENTS:
            client.put_log_events(
                logGroupName=target.group, logStreamName=target.stream, logEvents=events
            )
            events, size = [], 0
    if events:
        client.put_log_events(
            logGroupName=target.group, logStreamName=target.stream, logEvents=events
        )
    return offset + len(data)
