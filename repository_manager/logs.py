"""``dagster-ecs logs SERVICE``: a service's container logs from CloudWatch Logs.

Uses only the ECS and CloudWatch Logs APIs, so it reads the same streams locally (the ECS
runtime ships them with the awslogs driver's naming) and on AWS.
"""

from __future__ import annotations

from typing import Any

import boto3
import typer


def log_targets(ecs: Any, cluster: str, service: str) -> list[tuple[str, str]]:
    """(log group, stream prefix "prefix/container/") of each awslogs container of the service."""
    described = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not described:
        raise LookupError(
            f"service {service!r} not found in cluster {cluster!r}; see `aws ecs list-services`"
        )
    task_definition = ecs.describe_task_definition(taskDefinition=described[0]["taskDefinition"])
    targets = []
    for container in task_definition["taskDefinition"]["containerDefinitions"]:
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") == "awslogs" and options.get("awslogs-stream-prefix"):
            targets.append(
                (
                    options["awslogs-group"],
                    f"{options['awslogs-stream-prefix']}/{container['name']}/",
                )
            )
    return targets


def task_log_tail(ecs: Any, logs: Any, task: dict[str, Any], count: int = 1) -> list[str]:
    """The last ``count`` lines one task's awslogs containers wrote (``prefix/container/id``)."""
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    lines: list[tuple[int, str]] = []
    for container in definition["taskDefinition"]["containerDefinitions"]:
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if not options.get("awslogs-stream-prefix"):
            continue
        stream = f"{options['awslogs-stream-prefix']}/{container['name']}/{task_id}"
        try:
            events = logs.get_log_events(
                logGroupName=options["awslogs-group"], logStreamName=stream, limit=count
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            continue
        lines += [(e["timestamp"], e["message"]) for e in events]
    return [text for _, text in sorted(lines, key=lambda item: item[0])][-count:]


def read_logs(ecs: Any, logs: Any, cluster: str, service: str, limit: int) -> list[str]:
    lines: list[tuple[int, str]] = []
    for group, prefix in log_targets(ecs, cluster, service):
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)[
            "logStreams"
        ]
        for stream in streams:
            events = logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            task_id = stream["logStreamName"].rsplit("/", 1)[-1][:8]
            lines += [(e["timestamp"], f"[{task_id}] {e['message']}") for e in events]
    return [text for _, text in sorted(lines, key=lambda item: item[0])][-limit:]


def logs_command(
    service: str = typer.Argument(..., help="ECS service name"),
    cluster: str = typer.Option("dagster-ecs", help="ECS cluster"),
    limit: int = typer.Option(200, help="last N lines"),
) -> None:
    """Print a service's container logs from CloudWatch Logs (local emulator or AWS)."""
    try:
        for line in read_logs(boto3.client("ecs"), boto3.client("logs"), cluster, service, limit):
            typer.echo(line)
    except LookupError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
