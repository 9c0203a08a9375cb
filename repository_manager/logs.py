"""``dagster-ecs logs SERVICE``: a service's container logs from CloudWatch Logs.

Uses only the ECS and CloudWatch Logs APIs, so it reads the same streams locally (the ECS
runtime ships them with the awslogs driver's naming) and on AWS.
"""

from __future__ import annotations

from typing import Any

import typer

from repository_manager import environments


def service_names(ecs: Any, cluster: str) -> list[str]:
    try:
        pages = ecs.get_paginator("list_services").paginate(cluster=cluster)
        return sorted(arn.rsplit("/", 1)[-1] for page in pages for arn in page["serviceArns"])
    except ecs.exceptions.ClusterNotFoundException:
        return []


def log_targets(ecs: Any, cluster: str, service: str) -> list[tuple[str, str]]:
    """(log group, stream prefix "prefix/container/") of each awslogs container of the service."""
    described = [
        s
        for s in ecs.describe_services(cluster=cluster, services=[service])["services"]
        if s.get("status") == "ACTIVE"
    ]
    if not described:
        known = ", ".join(service_names(ecs, cluster)) or "none"
        raise LookupError(f"no service {service!r} in cluster {cluster!r}; its services: {known}")
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
    service: str = typer.Argument(..., help="ECS service name, e.g. webserver, daemon, cl-main."),
    env: str = typer.Option(
        "dev", "--env", help="dev: the `make dev` stack; local: its tofu environment; aws: AWS."
    ),
    limit: int = typer.Option(200, help="Show the last N lines."),
) -> None:
    """Print a service's container logs from CloudWatch Logs (local emulator or AWS)."""
    try:
        target = environments.resolve(env)
        for line in read_logs(
            target.client("ecs"), target.client("logs"), target.cluster, service, limit
        ):
            typer.echo(line)
    except (LookupError, environments.TargetError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
