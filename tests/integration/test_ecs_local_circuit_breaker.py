"""ECS's deployment circuit breaker in the runtime: real emulator, runtime and task processes.

A good revision completes, then an update to a revision whose container exits 1 at once. With
``deploymentCircuitBreaker`` the deployment fails after ``max(3, ceil(desired / 2))`` failed
tasks (3 here) and, with ``rollback``, the service returns to the completed revision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env

__all__ = ["ecs_env"]

THRESHOLD = 3  # desiredCount 1: ceil(0.5 * 1) raised to ECS's minimum of 3
GOOD = {
    "name": "app",
    "image": PY,
    "command": ["python", "-c", "import time; print('up', flush=True); time.sleep(600)"],
}
# Exits 1 at once. Its health check never passes (failures inside startPeriod do not count), so
# no bad task ever counts as healthy and the good task is kept while the rollout fails.
BAD = {
    "name": "app",
    "image": PY,
    "command": ["python", "-c", "import sys; sys.exit(1)"],
    "healthCheck": {"command": ["CMD-SHELL", "false"], "interval": 5, "startPeriod": 300},
}
BREAKER = {"enable": True, "rollback": True}
BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."


def _service(env: EcsEnv, name: str) -> dict[str, Any]:
    return dict(env.ecs.describe_services(cluster=env.cluster, services=[name])["services"][0])


def _tasks_of(env: EcsEnv, name: str, task_definition: str) -> list[dict[str, Any]]:
    arns: list[str] = []
    for status in ("RUNNING", "STOPPED"):
        arns += env.ecs.list_tasks(cluster=env.cluster, serviceName=name, desiredStatus=status)[
            "taskArns"
        ]
    return [t for t in env.describe(arns) if t["taskDefinitionArn"] == task_definition]


@contextmanager
def deployments_seen(env: EcsEnv, name: str) -> Iterator[list[dict[str, Any]]]:
    """Records every deployment describe_services shows while the block runs: a failed
    deployment is listed only until the rollback completes, which takes a moment locally."""
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(_service(env, name)["deployments"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


def _completed(env: EcsEnv, name: str, breaker: dict[str, bool] | None, **config: int) -> str:
    """A service of one good task whose deployment COMPLETED; returns the deployment id."""
    good = env.register(name, [GOOD])
    deployment_configuration: dict[str, Any] = dict(config)
    if breaker is not None:
        deployment_configuration["deploymentCircuitBreaker"] = breaker
    env.create_service(name, good, 1, deploymentConfiguration=deployment_configuration)

    def completed() -> str | None:
        (deployment,) = _service(env, name)["deployments"]
        return deployment["id"] if deployment["rolloutState"] == "COMPLETED" else None

    return str(wait_for(completed, 15, "the good deployment COMPLETED"))


def _update_to_bad(env: EcsEnv, name: str) -> tuple[str, str]:
    bad = env.register(name, [BAD])
    service = env.ecs.update_service(cluster=env.cluster, service=name, taskDefinition=bad)
    primary = next(d for d in service["service"]["deployments"] if d["status"] == "PRIMARY")
    return bad, str(primary["id"])


def _failed(seen: list[dict[str, Any]], deployment_id: str) -> dict[str, Any] | None:
    return next(
        (d for d in seen if d["id"] == deployment_id and d["rolloutState"] == "FAILED"), None
    )


def _no_more(env: EcsEnv, name: str, task_definition: str, seconds: float) -> None:
    """Asserts that no task of ``task_definition`` is launched for ``seconds``."""
    count = len(_tasks_of(env, name, task_definition))
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(
            lambda: len(_tasks_of(env, name, task_definition)) > count,
            seconds,
            "another task of the failed revision",
        )


def test_circuit_breaker_rolls_back_to_the_completed_deployment(ecs_env: EcsEnv) -> None:
    good_deployment = _completed(ecs_env, "cb", BREAKER)
    good = _service(ecs_env, "cb")["taskDefinition"]
    (good_task,) = wait_for(lambda: ecs_env.running("cb", 1), 10, "the good task")

    with deployments_seen(ecs_env, "cb") as seen:
        bad, bad_deployment = _update_to_bad(ecs_env, "cb")

        def rolled_back() -> dict[str, Any] | None:
            service = _service(ecs_env, "cb")
            (primary,) = service["deployments"]
            return service if primary["rolloutState"] == "COMPLETED" else None

        service = wait_for(rolled_back, 30, "the rollback deployment COMPLETED")

    # The bad deployment is listed FAILED only until the rollback completes, which is at once
    # here (the good task never stopped): the service events keep the verdict.
    views = [d for d in seen if d["id"] == bad_deployment]
    assert {d["rolloutState"] for d in views} <= {"IN_PROGRESS", "FAILED"}
    assert all(d["failedTasks"] < THRESHOLD for d in views if d["rolloutState"] == "IN_PROGRESS")
    for view in views:
        if view["rolloutState"] == "FAILED":
            assert view["failedTasks"] >= THRESHOLD and view["taskDefinition"] == bad
            assert view["rolloutStateReason"] == BREAKER_FAILED

    # The completed deployment is PRIMARY again and its task, never replaced, still serves.
    (primary,) = service["deployments"]
    assert (primary["id"], primary["taskDefinition"]) == (good_deployment, good)
    assert service["taskDefinition"] == good
    assert [t["taskArn"] for t in ecs_env.running("cb", 1) or []] == [good_task["taskArn"]]
    messages = [e["message"] for e in service["events"]]
    assert (
        f"(service cb) (deployment {bad_deployment}) deployment failed: tasks failed to start."
        in messages
    )
    assert f"(service cb) rolling back to deployment {good_deployment}." in messages

    bad_tasks = _tasks_of(ecs_env, "cb", bad)
    assert len(bad_tasks) >= THRESHOLD
    assert all(t["containers"][0]["exitCode"] == 1 for t in bad_tasks)
    _no_more(ecs_env, "cb", bad, 2.5)


def test_rollback_after_the_old_task_was_replaced(ecs_env: EcsEnv) -> None:
    """0/100 (the local deploy's setting): the good task stops first and its deployment drains
    away, so the rollback is a new deployment of the completed revision."""
    good_deployment = _completed(
        ecs_env, "cb0", BREAKER, minimumHealthyPercent=0, maximumPercent=100
    )
    good = _service(ecs_env, "cb0")["taskDefinition"]
    (good_task,) = wait_for(lambda: ecs_env.running("cb0", 1), 10, "the good task")
    with deployments_seen(ecs_env, "cb0") as seen:
        bad, bad_deployment = _update_to_bad(ecs_env, "cb0")

        def rolled_back() -> dict[str, Any] | None:
            service = _service(ecs_env, "cb0")
            primary = service["deployments"][0]
            done = primary["rolloutState"] == "COMPLETED" and primary["id"] != bad_deployment
            return service if done and len(service["deployments"]) == 1 else None

        service = wait_for(rolled_back, 30, "the rollback deployment COMPLETED")
    (primary,) = service["deployments"]
    assert primary["id"] not in (good_deployment, bad_deployment)
    failed = _failed(seen, bad_deployment)
    assert failed is not None, "the bad deployment was never shown FAILED"
    assert failed["failedTasks"] >= THRESHOLD and failed["rolloutStateReason"] == BREAKER_FAILED
    assert {d["rolloutStateReason"] for d in seen if d["id"] == primary["id"]} >= {
        f"ECS deployment circuit breaker: rolling back to deploymentId {good_deployment}",
        f"ECS deployment {primary['id']} completed.",
    }
    assert primary["taskDefinition"] == service["taskDefinition"] == good
    (task,) = wait_for(lambda: ecs_env.running("cb0", 1), 10, "a good task")
    assert task["taskDefinitionArn"] == good and task["taskArn"] != good_task["taskArn"]
    assert ecs_env.describe([good_task["taskArn"]])[0]["lastStatus"] == "STOPPED"
    messages = [e["message"] for e in service["events"]]
    assert f"(service cb0) rolling back to deployment {good_deployment}." in messages
    assert len(_tasks_of(ecs_env, "cb0", bad)) >= THRESHOLD
    _no_more(ecs_env, "cb0", bad, 2.5)


def test_failed_deployment_without_rollback_launches_nothing(ecs_env: EcsEnv) -> None:
    good_deployment = _completed(ecs_env, "cbn", {"enable": True, "rollback": False})
    (good_task,) = wait_for(lambda: ecs_env.running("cbn", 1), 10, "the good task")
    bad, bad_deployment = _update_to_bad(ecs_env, "cbn")

    def failed() -> dict[str, Any] | None:
        service = _service(ecs_env, "cbn")
        return service if _failed(service["deployments"], bad_deployment) else None

    service = wait_for(failed, 30, "the bad deployment FAILED")
    # ECS keeps the failed deployment PRIMARY (it stops launching tasks); the completed one
    # keeps its task.
    primary, active = service["deployments"]
    assert (primary["id"], primary["status"], primary["failedTasks"]) == (
        bad_deployment,
        "PRIMARY",
        THRESHOLD,
    )
    assert (active["id"], active["status"]) == (good_deployment, "ACTIVE")
    assert service["taskDefinition"] == bad
    assert [t["taskArn"] for t in ecs_env.running("cbn", 1) or []] == [good_task["taskArn"]]
    messages = [e["message"] for e in service["events"]]
    assert not any("rolling back" in m for m in messages)
    _no_more(ecs_env, "cbn", bad, 3)


def test_without_the_breaker_the_crash_loop_goes_on(ecs_env: EcsEnv) -> None:
    _completed(ecs_env, "cbx", None)
    bad, bad_deployment = _update_to_bad(ecs_env, "cbx")

    def past_threshold() -> dict[str, Any] | None:
        primary = _service(ecs_env, "cbx")["deployments"][0]
        assert primary["id"] == bad_deployment
        return primary if primary["failedTasks"] > THRESHOLD else None

    with deployments_seen(ecs_env, "cbx") as seen:
        primary = wait_for(past_threshold, 30, f"more than {THRESHOLD} failed tasks")
    assert primary["rolloutState"] == "IN_PROGRESS"
    assert _failed(seen, bad_deployment) is None
    assert {d["rolloutState"] for d in seen if d["id"] == bad_deployment} == {"IN_PROGRESS"}
    assert _service(ecs_env, "cbx")["taskDefinition"] == bad
    assert len(_tasks_of(ecs_env, "cbx", bad)) > THRESHOLD
    # Its tasks reached RUNNING before they exited: ECS does not throttle those.
    messages = [e["message"] for e in _service(ecs_env, "cbx")["events"]]
    assert "(service cbx) is unable to consistently start tasks successfully." not in messages


def test_a_completed_deployment_writes_ecs_s_service_events(ecs_env: EcsEnv) -> None:
    good = ecs_env.register("steady", [GOOD])
    ecs_env.create_service("steady", good, 1)
    try:
        deployment = wait_for(
            lambda: next(
                (
                    d
                    for d in _service(ecs_env, "steady")["deployments"]
                    if d.get("rolloutState") == "COMPLETED"
                ),
                None,
            ),
            30,
            "the deployment to complete",
        )
        messages = [e["message"] for e in _service(ecs_env, "steady")["events"]]
        assert messages[:2] == [
            "(service steady) has reached a steady state.",
            f"(service steady) (deployment {deployment['id']}) deployment completed.",
        ]
    finally:
        ecs_env.drain()
