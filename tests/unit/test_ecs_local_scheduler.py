"""The service scheduler's rolling rules, its deployment circuit breaker and the secret
reference parser, on data."""

from __future__ import annotations

import pytest

from dagster_ecs_emulator.ecs_protocol import DeploymentReport
from ecs_local.environment import (
    environment_file_location,
    parse_environment_file,
    parse_secret_ref,
)
from ecs_local.scheduler import Plan, TaskView, failure_threshold, plan_service


def _service(desired: int, minimum: int = 100, maximum: int = 200) -> dict:
    return {
        "status": "ACTIVE",
        "desiredCount": desired,
        "deploymentConfiguration": {"minimumHealthyPercent": minimum, "maximumPercent": maximum},
        "deployments": [
            {"id": "new", "status": "PRIMARY", "taskDefinition": "td:2"},
            {"id": "old", "status": "ACTIVE", "taskDefinition": "td:1"},
        ],
    }


def _task(arn: str, deployment: str, healthy: bool = True) -> TaskView:
    status = "RUNNING" if healthy else "PENDING"
    return TaskView(arn, "td", deployment, status, healthy, 0.0)


def test_100_200_starts_new_before_stopping_old() -> None:
    plan = plan_service(_service(2), [_task("a", "old"), _task("b", "old")])
    assert plan.start == 2 and plan.stop == []


def test_old_stop_only_when_new_are_healthy() -> None:
    pending = [
        _task("a", "old"),
        _task("b", "old"),
        _task("c", "new", False),
        _task("d", "new", False),
    ]
    assert plan_service(_service(2), pending).stop == []
    healthy = [_task("a", "old"), _task("b", "old"), _task("c", "new"), _task("d", "new")]
    assert {arn for arn, _ in plan_service(_service(2), healthy).stop} == {"a", "b"}


def test_50_100_stops_old_first() -> None:
    plan = plan_service(_service(2, 50, 100), [_task("a", "old"), _task("b", "old")])
    assert len(plan.stop) == 1 and plan.start == 1  # total stays within 100 %


def test_scale_down_and_delete() -> None:
    tasks = [_task("c", "new"), _task("d", "new")]
    assert len(plan_service(_service(1), tasks).stop) == 1
    deleted = {**_service(2), "status": "INACTIVE"}
    assert len(plan_service(deleted, tasks).stop) == 2


def test_backoff_blocks_starts() -> None:
    assert plan_service(_service(2), [], may_start=False).start == 0


def test_failure_threshold_follows_ecs() -> None:
    # AWS's examples: ceil(0.5 * desired), at least 3 and at most 200.
    assert [failure_threshold(n) for n in (0, 1, 6, 7, 25, 400, 800)] == [3, 3, 3, 4, 13, 200, 200]
    assert failure_threshold(10, {"type": "BOUNDED_PERCENT", "value": 100}) == 10
    assert failure_threshold(800, {"type": "UNBOUNDED_PERCENT", "value": 50}) == 400
    assert failure_threshold(1, {"type": "UNBOUNDED_PERCENT", "value": 50}) == 1
    assert failure_threshold(40, {"type": "COUNT", "value": 2}) == 2


def _breaker(
    desired: int = 1, enable: bool = True, rollback: bool = True, primary_state: str = "IN_PROGRESS"
) -> dict:
    service = _service(desired)
    service["deploymentConfiguration"]["deploymentCircuitBreaker"] = {
        "enable": enable,
        "rollback": rollback,
    }
    service["deployments"][0]["rolloutState"] = primary_state
    service["deployments"][1]["rolloutState"] = "COMPLETED"
    return service


def _primary(plan: Plan) -> DeploymentReport:
    return next(d for d in plan.deployments if d.id == "new")


def test_circuit_breaker_fails_the_deployment_at_the_threshold() -> None:
    old = [_task("a", "old")]
    below = plan_service(_breaker(), old, failures={"new": 2})
    assert _primary(below).rollout_state == "IN_PROGRESS"
    assert _primary(below).failed_tasks == 2 and below.start == 1

    plan = plan_service(_breaker(), old, failures={"new": 3})
    assert _primary(plan) == DeploymentReport(
        id="new",
        running_count=0,
        pending_count=0,
        rollout_state="FAILED",
        rollback=True,
        failed_tasks=3,
    )
    assert plan.start == 0 and plan.stop == []  # launches nothing, keeps the old task

    no_rollback = plan_service(_breaker(rollback=False), old, failures={"new": 3})
    assert _primary(no_rollback).rollback is False and no_rollback.start == 0


def test_without_the_breaker_failures_are_only_counted() -> None:
    plan = plan_service(_breaker(enable=False), [], failures={"new": 50})
    assert _primary(plan).rollout_state == "IN_PROGRESS"
    assert _primary(plan).failed_tasks == 50 and plan.start == 1


def test_failed_is_final_even_before_the_snapshot_shows_it() -> None:
    plan = plan_service(_breaker(), [], failures={"new": 0}, failed={"new"})
    assert _primary(plan).rollout_state == "FAILED" and plan.start == 0


def test_completed_is_final_and_stops_counting() -> None:
    crashed = plan_service(_breaker(primary_state="COMPLETED"), [], failures={"new": 9})
    assert _primary(crashed).rollout_state == "COMPLETED"
    assert _primary(crashed).failed_tasks is None and crashed.start == 1


def test_failed_deployment_listed_until_the_rollback_completes() -> None:
    service = _breaker()
    service["deployments"][0]["rolloutState"] = "IN_PROGRESS"  # the rollback deployment
    service["deployments"][1]["rolloutState"] = "FAILED"
    rolling = plan_service(service, [_task("c", "new")])
    assert not next(d for d in rolling.deployments if d.id == "old").drained
    service["deployments"][0]["rolloutState"] = "COMPLETED"
    done = plan_service(service, [_task("c", "new")])
    assert next(d for d in done.deployments if d.id == "old").drained is True


def test_a_healthy_task_replaces_the_old_one_but_completes_only_once_settled() -> None:
    service = _breaker()
    fresh = TaskView("c", "td", "new", "RUNNING", True, 0.0, settled=False)
    early = plan_service(service, [_task("a", "old"), fresh])
    assert early.stop == [("a", "Scaling activity initiated by (deployment new)")]
    assert _primary(early).rollout_state == "IN_PROGRESS"

    alone = plan_service(service, [fresh])
    assert _primary(alone).rollout_state == "IN_PROGRESS"
    settled = TaskView("c", "td", "new", "RUNNING", True, 0.0, settled=True)
    assert _primary(plan_service(service, [settled])).rollout_state == "COMPLETED"


def test_secret_references() -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:db-AbC123"
    assert parse_secret_ref(arn) == ("secretsmanager", arn, None)
    assert parse_secret_ref(f"{arn}:password::") == ("secretsmanager", arn, "password")
    ssm = "arn:aws:ssm:ap-southeast-2:123456789012:parameter/app/flag"
    assert parse_secret_ref(ssm) == ("ssm", "/app/flag", None)
    assert parse_secret_ref("plain") == ("ssm", "plain", None)


def test_environment_files_parse_as_docker_env_files() -> None:
    text = '# comment\n\n  SPACED=a b \nQUOTED="x"\nNOVALUE\nEQ=a=b\n'
    assert parse_environment_file(text) == {"SPACED": "a b ", "QUOTED": '"x"', "EQ": "a=b"}
    assert environment_file_location("arn:aws:s3:::b/dir/app.env") == ("b", "dir/app.env")
    for bad in ("arn:aws:s3:::b/app.txt", "s3://b/app.env", "arn:aws:s3:::b"):
        with pytest.raises(ValueError):
            environment_file_location(bad)
