"""The lifecycle ECS reports for a Fargate task, one stage at a time.

ECS moves a task through PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
DEPROVISIONING and STOPPED (the developer guide's "Task lifecycle"). ACTIVATING and
DEACTIVATING are the service scheduler's steps (service discovery and load balancer
registration), so a standalone task skips them; a task whose containers never started goes
from PENDING to DEPROVISIONING. The runtime acts at once (a process starts in milliseconds), so
the stage it reports advances by at most one per report: a client polling describe_tasks sees
the order ECS documents, not a jump from PROVISIONING to RUNNING.
"""

from __future__ import annotations

PROVISIONING = "PROVISIONING"
STOPPED = "STOPPED"


def stages(in_service: bool, started: bool) -> tuple[str, ...]:
    """The stages a task goes through, in order."""
    if not started:
        return (PROVISIONING, "PENDING", "DEPROVISIONING", STOPPED)
    scheduler = ("ACTIVATING",) if in_service else ()
    leaving = ("DEACTIVATING",) if in_service else ()
    return (
        PROVISIONING,
        "PENDING",
        *scheduler,
        "RUNNING",
        *leaving,
        "STOPPING",
        "DEPROVISIONING",
        STOPPED,
    )


def actual_stage(status: str, containers_stopped: bool) -> str:
    """The stage the runtime's own state is in (``status``: PENDING, RUNNING, STOPPING,
    STOPPED)."""
    if status == "STOPPING":
        return "DEPROVISIONING" if containers_stopped else "STOPPING"
    return status


def next_reported(reported: str, actual: str, path: tuple[str, ...]) -> str:
    """One stage on from ``reported`` toward ``actual`` along ``path`` (never back)."""
    if actual not in path:
        return actual
    here = path.index(reported) if reported in path else 0
    target = path.index(actual)
    return path[min(here + 1, target)] if target > here else path[here]
