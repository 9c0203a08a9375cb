"""What the task metadata v4 and credentials endpoints answer for a container's token: the
runtime's live tasks, read under the controller's lock (``metadata.MetadataSource``)."""

from __future__ import annotations

import threading
from typing import Any

from ecs_local.aws_clients import AwsClients
from ecs_local.stats import StatsReader
from ecs_local.task_metadata import container_metadata, task_metadata
from ecs_local.task_state import TaskState, container_definition


class TaskEndpoints:
    def __init__(
        self,
        tasks: dict[str, TaskState],
        tokens: dict[str, tuple[str, str | None]],
        lock: threading.RLock,
        stats: StatsReader,
        aws: AwsClients,
    ) -> None:
        self.tasks, self.tokens, self._lock = tasks, tokens, lock
        self.stats, self.aws = stats, aws

    def _container_stats(self, task: TaskState, name: str) -> dict[str, Any]:
        container = task.containers[name]
        if container.handle is None or container.status == "STOPPED":
            return {}
        definition = container_definition(task.task_definition, name)
        limit = int(definition.get("memory") or task.task_definition.get("memory") or 512)
        td = task.task_definition
        return self.stats.read(
            container.handle.runtime_id,
            container.handle.pid,
            f"ecs-{td['family']}-{td['revision']}-{name}",
            limit,
        )

    def container_stats(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[1] is None or found[0] not in self.tasks:
                return None
            task, name = self.tasks[found[0]], found[1]
        return self._container_stats(task, name)

    def task_stats(self, token: str) -> dict[str, Any] | None:
        """Every container's stats, keyed by its Docker id (runtime id), as Fargate answers."""
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[0] not in self.tasks:
                return None
            task = self.tasks[found[0]]
        return {
            container.handle.runtime_id: self._container_stats(task, name)
            for name, container in task.containers.items()
            if container.handle is not None
        }

    def container_metadata(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[1] is None or found[0] not in self.tasks:
                return None
            return container_metadata(self.tasks[found[0]], found[1])

    def task_metadata(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            if not found or found[0] not in self.tasks:
                return None
            return task_metadata(self.tasks[found[0]])

    def credentials(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.tokens.get(token)
            task = self.tasks.get(found[0]) if found and found[1] is None else None
            role_arn = task.role_arn if task else None
            task_id = task.id if task else ""
        if not role_arn:
            return None
        creds = self.aws.role_credentials(role_arn, f"ecs-task-{task_id}")
        return {k: v for k, v in creds.items() if not k.startswith("_")}
