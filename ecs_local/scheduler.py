"""The ECS service scheduler as a pure function: service + its tasks -> what to start and stop.

Rolling update rules (ECS's): tasks started by the PRIMARY deployment are "new", others are
"old". At most ``floor(desired * maximumPercent / 100)`` tasks exist at once and at
least ``ceil(desired * minimumHealthyPercent / 100)`` stay healthy, so with 100/200 a new task
is healthy before an old one stops. Unhealthy or pending old tasks may always be stopped.

Deployment circuit breaker (``deploymentConfiguration.deploymentCircuitBreaker``): the caller
counts the failed tasks of each deployment; once the PRIMARY deployment's count reaches
``failure_threshold`` while its rollout is IN_PROGRESS, it becomes FAILED and launches no more
tasks (with ``rollback`` the emulator hook then rolls the service back). COMPLETED and FAILED are
final: a task failing after its deployment completed no longer counts. A deployment completes
only once its tasks have settled: healthy by their health check, or, without one, RUNNING for a
while (``TaskView.settled``). Old tasks stop as soon as new ones are healthy (as on ECS), so a
revision that crashes a moment after start keeps failing tasks and trips the breaker.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster_ecs_emulator.ecs_protocol import DeploymentReport

MIN_FAILURE_THRESHOLD = 3
MAX_FAILURE_THRESHOLD = 200


@dataclass(frozen=True)
class TaskView:
    arn: str
    task_definition: str
    started_by: str
    last_status: str
    healthy: bool
    started_at: float
    settled: bool | None = None
    """Healthy and past its settling time (the caller's): only settled tasks complete a
    deployment, so a container that runs a moment and exits never does. ``None``: healthy."""

    @property
    def counts_as_settled(self) -> bool:
        return self.healthy if self.settled is None else self.settled


@dataclass
class Plan:
    start: int = 0
    stop: list[tuple[str, str]] = field(default_factory=list)
    running: int = 0
    pending: int = 0
    deployments: list[DeploymentReport] = field(default_factory=list)


@dataclass(frozen=True)
class CircuitBreaker:
    enable: bool = False
    rollback: bool = False
    reset_on_healthy_task: bool = True
    threshold_configuration: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, service: dict[str, Any]) -> CircuitBreaker:
        config = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
        config = config or {}
        return cls(
            bool(config.get("enable", False)),
            bool(config.get("rollback", False)),
            bool(config.get("resetOnHealthyTask", True)),
            config.get("thresholdConfiguration") or {},
        )


def failure_threshold(
    desired: int, threshold_configuration: Mapping[str, Any] | None = None
) -> int:
    """ECS's failure threshold: by default ``ceil(50 % of desiredCount)`` bounded to 3..200;
    ``thresholdConfiguration`` may make it a fixed COUNT or an UNBOUNDED_PERCENT."""
    config = threshold_configuration or {}
    kind = config.get("type", "BOUNDED_PERCENT")
    value = int(config.get("value", 50))
    if kind == "COUNT":
        return max(value, 1)
    computed = math.ceil(value * desired / 100)
    if kind == "UNBOUNDED_PERCENT":
        return max(computed, 1)
    return min(MAX_FAILURE_THRESHOLD, max(MIN_FAILURE_THRESHOLD, computed))


def plan_service(
    service: dict[str, Any],
    tasks: list[TaskView],
    may_start: bool = True,
    failures: Mapping[str, int] | None = None,
    failed: Collection[str] = (),
) -> Plan:
    """``failures``: failed tasks counted per deployment id; ``failed``: deployments the caller
    already failed (the snapshot may not show it yet)."""
    plan = Plan()
    plan.running = sum(1 for t in tasks if t.last_status == "RUNNING")
    plan.pending = len(tasks) - plan.running
    primary = next((d for d in service["deployments"] if d["status"] == "PRIMARY"), None)
    if service["status"] != "ACTIVE" or primary is None:
        plan.stop = [(t.arn, "Service is being deleted") for t in tasks]
        return plan
    reason = f"Scaling activity initiated by (deployment {primary['id']})"
    desired = int(service["desiredCount"])
    config = service.get("deploymentConfiguration") or {}
    min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
    max_total = max(math.floor(desired * int(config.get("maximumPercent", 200)) / 100), 1)

    breaker = CircuitBreaker.of(service)
    failed_tasks = (failures or {}).get(primary["id"], 0)
    state = "FAILED" if primary["id"] in failed else primary.get("rolloutState", "IN_PROGRESS")
    if (
        state == "IN_PROGRESS"
        and breaker.enable
        and failed_tasks >= failure_threshold(desired, breaker.threshold_configuration)
    ):
        state = "FAILED"
    if state == "FAILED":
        may_start = False

    new = [t for t in tasks if t.started_by == primary["id"]]
    old = [t for t in tasks if t.started_by != primary["id"]]
    healthy = sum(1 for t in tasks if t.healthy)

    # Stop old tasks: non-healthy ones freely, healthy ones while the healthy floor allows.
    for task in sorted(old, key=lambda t: (t.healthy, t.started_at)):
        if not task.healthy:
            plan.stop.append((task.arn, reason))
        elif healthy - 1 >= min_healthy:
            plan.stop.append((task.arn, reason))
            healthy -= 1
    remaining = len(tasks) - len(plan.stop)

    if len(new) > desired:
        surplus = sorted(new, key=lambda t: (t.healthy, t.last_status == "RUNNING", t.started_at))
        plan.stop += [(t.arn, reason) for t in surplus[: len(new) - desired]]
    elif may_start:
        plan.start = max(0, min(desired - len(new), max_total - remaining))
        if plan.start == 0 and len(new) < desired and remaining >= max_total and not old:
            plan.start = desired - len(new)

    for deployment in service["deployments"]:
        mine = (
            new if deployment is primary else [t for t in old if t.started_by == deployment["id"]]
        )
        running = sum(1 for t in mine if t.last_status == "RUNNING")
        entry = DeploymentReport(
            id=deployment["id"], running_count=running, pending_count=len(mine) - running
        )
        if deployment is primary:
            settled = sum(1 for t in new if t.counts_as_settled)
            done = not old and settled >= desired and len(new) == desired
            if state == "FAILED":
                entry.rollout_state, entry.rollback = "FAILED", breaker.rollback
            else:
                entry.rollout_state = "COMPLETED" if state == "COMPLETED" or done else "IN_PROGRESS"
            if state != "COMPLETED":
                entry.failed_tasks = failed_tasks
        elif not mine and not (deployment.get("rolloutState") == "FAILED" and state != "COMPLETED"):
            # A failed deployment stays listed until the deployment replacing it has completed.
            entry.drained = True
        plan.deployments.append(entry)
    return plan


def scheduler_events(service: str, started: list[str], stopped: list[str]) -> list[str]:
    """ECS's service event messages for the tasks one scheduling pass stopped and started."""
    events = []
    if stopped:
        tasks = " ".join(f"(task {task_id})" for task_id in stopped)
        events.append(f"(service {service}) has stopped {len(stopped)} running tasks: {tasks}.")
    if started:
        tasks = " ".join(f"(task {task_id})" for task_id in started)
        events.append(f"(service {service}) has started {len(started)} tasks: {tasks}.")
    return events
