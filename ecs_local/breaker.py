"""The deployment circuit breaker's bookkeeping: failed tasks per deployment, on data.

The counts are seeded once from the emulator (which keeps ``failedTasks`` across runtime
restarts); a deployment's count resets when one of its tasks stayed healthy
(``resetOnHealthyTask``, ECS's default), and a rollback starts the other deployments afresh.
:func:`ecs_local.scheduler.plan_service` decides from these counts when a deployment FAILS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagster_ecs_emulator.ecs_protocol import DeploymentReport
from ecs_local.scheduler import CircuitBreaker


class DeploymentFailures:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.failed: set[str] = set()
        self._seeded: set[str] = set()

    def task_failed(self, deployment_id: str) -> None:
        self.counts[deployment_id] = self.counts.get(deployment_id, 0) + 1

    def observe(self, service: dict[str, Any], stable_deployments: Iterable[str]) -> None:
        """Seeds the service's deployments' counts once; resets those with a stable task."""
        for deployment in service["deployments"]:
            if deployment["id"] not in self._seeded:
                self._seeded.add(deployment["id"])
                seeded = int(deployment.get("failedTasks") or 0)
                self.counts[deployment["id"]] = self.counts.get(deployment["id"], 0) + seeded
        if service.get("status") == "ACTIVE" and CircuitBreaker.of(service).reset_on_healthy_task:
            for deployment_id in stable_deployments:
                self.counts[deployment_id] = 0

    def newly_failed(
        self, service: dict[str, Any], planned: list[DeploymentReport]
    ) -> list[DeploymentReport]:
        """The planned deployment entries the breaker failed for the first time: remembered,
        as the next snapshot may still show them IN_PROGRESS; a rollback zeroes the others."""
        found = []
        for entry in planned:
            if entry.rollout_state != "FAILED" or entry.id in self.failed:
                continue
            self.failed.add(entry.id)
            found.append(entry)
            if entry.rollback:
                for deployment in service["deployments"]:
                    if deployment["id"] != entry.id:
                        self.counts[deployment["id"]] = 0
        return found

    def forget(self, listed: set[str]) -> None:
        """Drops the deployments the emulator no longer lists."""
        for deployment_id in set(self.counts) - listed:
            del self.counts[deployment_id]
        self._seeded &= listed
        self.failed &= listed
