"""The service scheduler's rolling rules and the secret reference parser, on data."""

from __future__ import annotations

from ecs_local.environment import parse_secret_ref
from ecs_local.scheduler import TaskView, plan_service


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


def test_secret_references() -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:db-AbC123"
    assert parse_secret_ref(arn) == ("secretsmanager", arn, None)
    assert parse_secret_ref(f"{arn}:password::") == ("secretsmanager", arn, "password")
    ssm = "arn:aws:ssm:ap-southeast-2:123456789012:parameter/app/flag"
    assert parse_secret_ref(ssm) == ("ssm", "/app/flag", None)
    assert parse_secret_ref("plain") == ("ssm", "plain", None)
