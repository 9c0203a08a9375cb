"""Placement on the shared host network: a task never starts while its host port is held."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psutil

from tests.integration.conftest import free_port, wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env, task_pgids

__all__ = ["ecs_env"]


def _listener(port: int, tag: str) -> dict[str, object]:
    """Binds the port without SO_REUSEADDR, as a server would, and fails if it is taken."""
    code = (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('0.0.0.0', {port})); s.listen(); print('{tag} bound', flush=True); "
        "time.sleep(600)"
    )
    return {
        "name": "app",
        "image": PY,
        "command": ["python", "-c", code],
        "portMappings": [{"containerPort": port, "hostPort": port}],
    }


def test_port_bound_service_rolls_without_a_bind_failure(ecs_env: EcsEnv) -> None:
    port = free_port()
    v1 = ecs_env.register("ported", [_listener(port, "v1")])
    ecs_env.create_service(
        "ported", v1, 1, deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100}
    )
    (old,) = wait_for(lambda: ecs_env.running("ported", 1), 15, "the v1 task")

    v2 = ecs_env.register("ported", [_listener(port, "v2")])
    ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="ported", taskDefinition=v2)

    def rolled() -> list[dict[str, object]] | None:
        tasks = ecs_env.running("ported", 1)
        return tasks if tasks and tasks[0]["taskDefinitionArn"] == v2 else None

    (new,) = wait_for(rolled, 30, "the v2 task to run")
    stopped = ecs_env.wait_status(str(old["taskArn"]), "STOPPED")
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    assert new["startedAt"] >= stopped["stoppedAt"]
    stopped_arns = ecs_env.ecs.list_tasks(
        cluster=ecs_env.cluster, serviceName="ported", desiredStatus="STOPPED"
    )["taskArns"]
    failed = [
        t
        for t in ecs_env.describe(stopped_arns)
        if t.get("stopCode") in {"EssentialContainerExited", "TaskFailedToStart"}
    ]
    assert failed == [], "a task crashed: its port was still held"


def _cluster_tasks(env: EcsEnv) -> list[str]:
    """Every task of the cluster, stopped ones included."""
    ecs = env.ecs
    running = ecs.list_tasks(cluster=env.cluster)["taskArns"]
    stopped = ecs.list_tasks(cluster=env.cluster, desiredStatus="STOPPED")["taskArns"]
    return [*running, *stopped]


def _two_at_once(env: EcsEnv) -> str | None:
    """What shows a second task next to the one holding the port, if anything does."""
    if len(arns := _cluster_tasks(env)) > 1:
        return f"{len(arns)} tasks in the ECS API"
    if len(groups := task_pgids(env.runtime.state_dir)) > 1:
        return f"{len(groups)} task process groups"
    return None


def _assert_never(condition: Callable[[], str | None], window: float, what: str) -> None:
    try:
        seen = wait_for(condition, window, what)
    except AssertionError:
        return
    raise AssertionError(f"{what}: {seen}")


def _listening_group(port: int) -> int | None:
    """The process group of the process that listens on the port."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return os.getpgid(conn.pid)
    return None


def _holds(task: dict[str, Any], port: int) -> bool:
    return _listening_group(port) == int(task["containers"][0]["runtimeId"])


def _crashed(env: EcsEnv) -> list[dict[str, Any]]:
    failures = {"EssentialContainerExited", "TaskFailedToStart"}
    return [t for t in env.describe(_cluster_tasks(env)) if t.get("stopCode") in failures]


def test_tasks_started_in_one_pass_do_not_share_a_host_port(ecs_env: EcsEnv) -> None:
    port = free_port()
    td = ecs_env.register("pair", [_listener(port, "pair")])
    ecs_env.create_service("pair", td, 2)
    (first,) = wait_for(lambda: ecs_env.running("pair", 1), 15, "the first task")
    wait_for(lambda: _holds(first, port), 10, "the first task to listen on the port")

    def short_by_one() -> bool:
        (service,) = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["pair"])[
            "services"
        ]
        return bool((service["runningCount"], service["pendingCount"]) == (1, 0))

    wait_for(short_by_one, 10, "the service to report 1 of 2 running")
    _assert_never(lambda: _two_at_once(ecs_env), 3, "a second task while the port is held")
    assert _crashed(ecs_env) == []

    ecs_env.ecs.stop_task(cluster=ecs_env.cluster, task=first["taskArn"])
    stopped = ecs_env.wait_status(str(first["taskArn"]), "STOPPED")
    (second,) = wait_for(lambda: ecs_env.running("pair", 1), 15, "the second task")
    assert second["taskArn"] != first["taskArn"]
    assert second["startedAt"] >= stopped["stoppedAt"]
    wait_for(lambda: _holds(second, port), 10, "the second task to listen on the port")
    assert _crashed(ecs_env) == []


def test_services_created_together_take_turns_on_a_host_port(ecs_env: EcsEnv) -> None:
    """Both services reach the runtime in its first pass after a restart."""
    port = free_port()
    ecs_env.runtime.stop()
    for name in ("left", "right"):
        ecs_env.create_service(name, ecs_env.register(name, [_listener(port, name)]), 1)
    ecs_env.runtime.start()

    def placed() -> tuple[str, dict[str, Any]] | None:
        found = [(name, ecs_env.running(name, 1)) for name in ("left", "right")]
        placed = [(name, tasks[0]) for name, tasks in found if tasks]
        return placed[0] if len(placed) == 1 else None

    winner, first = wait_for(placed, 15, "one service's task")
    wait_for(lambda: _holds(first, port), 10, "its task to listen on the port")
    _assert_never(lambda: _two_at_once(ecs_env), 3, "the other service's task while held")
    assert _crashed(ecs_env) == []

    ecs_env.ecs.delete_service(cluster=ecs_env.cluster, service=winner, force=True)
    stopped = ecs_env.wait_status(str(first["taskArn"]), "STOPPED")
    loser = "right" if winner == "left" else "left"
    (second,) = wait_for(lambda: ecs_env.running(loser, 1), 15, f"the {loser} service's task")
    assert second["startedAt"] >= stopped["stoppedAt"]
    wait_for(lambda: _holds(second, port), 10, "its task to listen on the port")
    assert _crashed(ecs_env) == []
