"""``dagster-ecs logs SERVICE``: a service's container logs from CloudWatch Logs.

Uses only the ECS and CloudWatch Logs APIs, so it reads the same streams locally (the ECS
runtime ships them with the awslogs driver's naming) and on AWS.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import typer

from repository_manager import environments
from repository_manager.devstack.logs import CloudWatchSource


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
    return awslogs_targets(task_definition["taskDefinition"])


def task_log_events(
    ecs: Any, logs: Any, task: dict[str, Any], count: int = 1
) -> list[tuple[int, str]]:
    """(timestamp, line) of the last ``count`` lines of each of one task's awslogs containers
    (streams ``prefix/container/task id``), oldest first."""
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
    return sorted(lines, key=lambda item: item[0])


def task_log_tail(ecs: Any, logs: Any, task: dict[str, Any], count: int = 1) -> list[str]:
    """The last ``count`` lines one task's awslogs containers wrote."""
    return [text for _, text in task_log_events(ecs, logs, task, count)][-count:]


def run_family_prefix(location: str) -> str:
    """The task definition family prefix of a location's run tasks: EcsRunLauncher names them
    ``run_{location}_{sha1(location)[:8]}_{repository…}_{job…}`` (dagster-aws's
    ``get_task_definition_family``)."""
    digest = hashlib.sha1(location.encode()).hexdigest()[:8]
    return re.sub(r"[^\w^\-]", "", f"run_{location[:55]}_{digest}_")


def run_tasks(ecs: Any, cluster: str, location: str) -> list[dict[str, Any]]:
    """Every run task of one code location ECS still lists (RUNNING, and STOPPED for about an
    hour on AWS), with its tags."""
    families = ecs.list_task_definition_families(
        familyPrefix=run_family_prefix(location), status="ACTIVE"
    )["families"]
    tasks: list[dict[str, Any]] = []
    for family in families:
        for status in ("RUNNING", "STOPPED"):
            arns = ecs.list_tasks(cluster=cluster, family=family, desiredStatus=status)["taskArns"]
            if arns:
                tasks += ecs.describe_tasks(cluster=cluster, tasks=arns, include=["TAGS"])["tasks"]
    return tasks


def run_label(task: dict[str, Any]) -> str:
    tags = {t["key"]: t["value"] for t in task.get("tags", [])}
    return f"run {tags.get('dagster/run_id', task['taskArn'].rsplit('/', 1)[-1])[:8]}"


def run_log_lines(ecs: Any, logs: Any, cluster: str, location: str, limit: int) -> list[str]:
    """The runs' logs of one code location, each line marked with its run id."""
    lines: list[tuple[int, str]] = []
    for task in run_tasks(ecs, cluster, location):
        label = run_label(task)
        lines += [
            (stamp, f"[{label}] {text}") for stamp, text in task_log_events(ecs, logs, task, limit)
        ]
    return [text for _, text in sorted(lines, key=lambda item: item[0])][-limit:]


@dataclass
class RunLogsSource:
    """The logs of a location's run tasks as one followable source: the run tasks are listed
    again every ``interval`` (new runs start while it is followed), each task's streams read
    as a :class:`CloudWatchSource`."""

    location: str
    ecs: Any
    logs: Any
    cluster: str
    interval: float = 2.0
    name: str = "runs"
    tasks: dict[str, list[CloudWatchSource]] = field(default_factory=dict)
    due: float = 0.0

    def _sources(self) -> list[tuple[str, CloudWatchSource]]:
        for task in run_tasks(self.ecs, self.cluster, self.location):
            if task["taskArn"] in self.tasks:
                continue
            task_id = task["taskArn"].rsplit("/", 1)[-1]
            definition = self.ecs.describe_task_definition(
                taskDefinition=task["taskDefinitionArn"]
            )["taskDefinition"]
            self.tasks[task["taskArn"]] = [
                CloudWatchSource(run_label(task), self.logs, group, f"{prefix}{task_id}")
                for group, prefix in awslogs_targets(definition)
            ]
        return [(s.name, s) for sources in self.tasks.values() for s in sources]

    def history(self, lines: int) -> list[str]:
        self.due = time.monotonic() + self.interval
        return [f"[{name}] {line}" for name, s in self._sources() for line in s.history(lines)]

    def poll(self) -> list[str]:
        if time.monotonic() >= self.due:
            self.due = time.monotonic() + self.interval
            self._sources()
        return [
            f"[{source.name}] {line}"
            for sources in self.tasks.values()
            for source in sources
            for line in source.poll()
        ]


def awslogs_targets(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(log group, stream prefix ``prefix/container/``) of each awslogs container."""
    targets = []
    for container in definition["containerDefinitions"]:
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
