"""The task lifecycle the runtime reports: ECS's stages in order, one per report."""

from __future__ import annotations

from ecs_local.lifecycle import actual_stage, next_reported, stages


def _walk(path: tuple[str, ...], actual: str, start: str = "PROVISIONING") -> list[str]:
    seen, reported = [start], start
    while reported != actual:
        reported = next_reported(reported, actual, path)
        seen.append(reported)
    return seen


def test_a_service_task_shows_every_stage_ecs_documents() -> None:
    path = stages(in_service=True, started=True)
    assert _walk(path, "RUNNING") == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]
    assert _walk(path, "STOPPED", "RUNNING") == [
        "RUNNING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]


def test_a_standalone_task_skips_the_scheduler_s_stages() -> None:
    path = stages(in_service=False, started=True)
    assert _walk(path, "STOPPED") == [
        "PROVISIONING",
        "PENDING",
        "RUNNING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]


def test_a_task_that_never_started_never_shows_running() -> None:
    path = stages(in_service=True, started=False)
    assert _walk(path, "STOPPED") == ["PROVISIONING", "PENDING", "DEPROVISIONING", "STOPPED"]


def test_the_reported_stage_never_goes_back() -> None:
    path = stages(in_service=True, started=True)
    assert next_reported("STOPPING", "RUNNING", path) == "STOPPING"


def test_stopping_is_deprovisioning_once_every_container_stopped() -> None:
    assert actual_stage("STOPPING", containers_stopped=False) == "STOPPING"
    assert actual_stage("STOPPING", containers_stopped=True) == "DEPROVISIONING"
    assert actual_stage("RUNNING", containers_stopped=False) == "RUNNING"
