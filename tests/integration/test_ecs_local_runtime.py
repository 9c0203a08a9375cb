"""The ECS runtime against the real emulator, with real task processes."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import psutil

from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import (
    READY,
    SERVER,
    STUBBORN,
    EcsEnv,
    container_child,
    ecs_env,
    task_pgids,
)
from tests.integration.ecs_fixtures import app_container as _app

__all__ = ["ecs_env"]


def _pid(task: dict) -> int:
    return int(task["containers"][0]["runtimeId"])


def test_service_runs_desired_count_and_replaces_a_failed_task(ecs_env: EcsEnv) -> None:
    td = ecs_env.register("svc", [_app(SERVER)])
    ecs_env.create_service("web", td, 2)
    tasks = wait_for(lambda: ecs_env.running("web", 2), 15, "2 RUNNING tasks")
    pids = {_pid(t) for t in tasks}
    assert all(psutil.pid_exists(p) for p in pids) and len(pids) == 2
    assert all(t["startedAt"] and t["group"] == "service:web" for t in tasks)
    service = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["web"])["services"][
        0
    ]
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    wait_for(
        lambda: (
            ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["web"])["services"][0][
                "deployments"
            ][0]["rolloutState"]
            == "COMPLETED"
        ),
        30,
        "the deployment to complete",
    )

    victim = tasks[0]
    child = container_child(_pid(victim))
    # On a loaded machine the task may be RUNNING before its handler is in place.
    wait_for(lambda: os.path.exists(os.path.join(child.cwd(), "usr1-ready")), 30, "the handler")
    child.send_signal(signal.SIGUSR1)
    stopped = ecs_env.wait_status(victim["taskArn"], "STOPPED")
    assert stopped["containers"][0]["exitCode"] == 3
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedAt"] >= stopped["startedAt"]
    replaced = wait_for(lambda: ecs_env.running("web", 2), 15, "a replacement task")
    assert victim["taskArn"] not in {t["taskArn"] for t in replaced}
    assert len(task_pgids(ecs_env.runtime.state_dir)) == 2


def test_rolling_update_never_drops_below_minimum_healthy(ecs_env: EcsEnv) -> None:
    v1 = ecs_env.register("roll", [_app(SERVER)])
    ecs_env.create_service(
        "roll", v1, 2, deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200}
    )
    old = wait_for(lambda: ecs_env.running("roll", 2), 15, "2 RUNNING v1 tasks")
    v2 = ecs_env.register("roll", [_app(SERVER + "  # v2")])

    floor: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            floor.append(
                len([t for t in ecs_env.service_tasks("roll") if t["lastStatus"] == "RUNNING"])
            )

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="roll", taskDefinition=v2)

        def rolled() -> bool:
            tasks = ecs_env.running("roll", 2) or []
            service = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["roll"])
            deployments = service["services"][0]["deployments"]
            return (
                len(tasks) == 2
                and all(t["taskDefinitionArn"] == v2 for t in tasks)
                and len(deployments) == 1
                and deployments[0]["rolloutState"] == "COMPLETED"
            )

        wait_for(rolled, 20, "rollout to v2")
    finally:
        done.set()
        watcher.join()
    assert min(floor) >= 2, f"running tasks dipped to {min(floor)} during the rollout"

    # The old deployment leaves the list when its tasks are told to stop; they may still be
    # stopping (SIGTERM sent) at that moment.
    def old_stopped() -> list[dict[str, Any]] | None:
        tasks = ecs_env.describe([t["taskArn"] for t in old])
        return tasks if all(t["lastStatus"] == "STOPPED" for t in tasks) else None

    stopped = wait_for(old_stopped, 10, "the old tasks STOPPED")
    for task in stopped:
        assert task["stoppedReason"].startswith("Scaling activity initiated by")
    wait_for(lambda: len(task_pgids(ecs_env.runtime.state_dir)) == 2, 10, "old processes gone")


def test_run_task_and_stop_task_with_stop_timeout(ecs_env: EcsEnv) -> None:
    td = ecs_env.register("once", [_app(SERVER, stopTimeout=30)])
    stubborn_td = ecs_env.register("stubborn", [_app(STUBBORN, stopTimeout=1, healthCheck=READY)])
    task = ecs_env.run_task(td)
    assert task["lastStatus"] == "PROVISIONING"
    stubborn = ecs_env.run_task(stubborn_td)
    running = ecs_env.wait_status(task["taskArn"], "RUNNING")
    wait_for(
        lambda: ecs_env.describe([stubborn["taskArn"]])[0].get("healthStatus") == "HEALTHY",
        30,
        "the stubborn task to ignore SIGTERM",
    )
    assert psutil.pid_exists(_pid(running))
    assert ecs_env.ecs.list_tasks(cluster=ecs_env.cluster)["taskArns"]

    ecs_env.ecs.stop_task(cluster=ecs_env.cluster, task=task["taskArn"], reason="enough")
    ecs_env.ecs.stop_task(cluster=ecs_env.cluster, task=stubborn["taskArn"], reason="enough")
    stopped = ecs_env.wait_status(task["taskArn"], "STOPPED")
    assert stopped["containers"][0]["exitCode"] == 143  # SIGTERM, as Docker reports it
    assert stopped["stoppedReason"] == "enough" and stopped["desiredStatus"] == "STOPPED"
    killed = ecs_env.wait_status(stubborn["taskArn"], "STOPPED", timeout=10)
    assert killed["containers"][0]["exitCode"] == 137  # SIGKILL after stopTimeout
    assert (killed["stoppedAt"] - killed["stoppingAt"]).total_seconds() >= 1
    assert not task_pgids(ecs_env.runtime.state_dir)
    assert ecs_env.ecs.list_tasks(cluster=ecs_env.cluster)["taskArns"] == []


def test_unknown_image_stops_with_cannot_pull(ecs_env: EcsEnv) -> None:
    td = ecs_env.register(
        "ghost", [{"name": "app", "image": "example.com/ghost:1", "command": ["x"]}]
    )
    task = ecs_env.run_task(td)
    stopped = ecs_env.wait_status(task["taskArn"], "STOPPED")
    assert stopped["stoppedReason"].startswith("CannotPullContainerError")
    assert stopped["stopCode"] == "TaskFailedToStart"


def test_unhealthy_task_is_stopped_and_replaced(ecs_env: EcsEnv) -> None:
    check = {"command": ["CMD-SHELL", "test -f healthy"], "interval": 5, "retries": 2, "timeout": 2}
    sick = ecs_env.register("sick", [_app(SERVER, healthCheck=check)])
    ecs_env.create_service("sick", sick, 1)
    first = wait_for(lambda: ecs_env.running("sick", 1), 15, "a RUNNING task")[0]
    stopped = ecs_env.wait_status(first["taskArn"], "STOPPED", timeout=40)
    assert stopped["stoppedReason"] == "Task failed container health checks"
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"  # the scheduler replaced it
    assert stopped["containers"][0]["healthStatus"] == "UNHEALTHY"
    wait_for(
        lambda: [t for t in ecs_env.running("sick", 1) or [] if t["taskArn"] != first["taskArn"]],
        30,
        "a replacement task",
    )
    well = ecs_env.register(
        "sick",
        [_app("open('healthy', 'w').close(); " + SERVER, healthCheck=check)],
    )
    ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="sick", taskDefinition=well)
    healthy = wait_for(
        lambda: [
            t
            for t in ecs_env.service_tasks("sick")
            if t["taskDefinitionArn"] == well and t["healthStatus"] == "HEALTHY"
        ],
        40,
        "a HEALTHY task",
    )
    assert healthy[0]["containers"][0]["healthStatus"] == "HEALTHY"


def test_runtime_restart_adopts_running_tasks(ecs_env: EcsEnv) -> None:
    td = ecs_env.register("adopt", [_app(SERVER)])
    ecs_env.create_service("adopt", td, 1)
    (task,) = wait_for(lambda: ecs_env.running("adopt", 1), 15, "a RUNNING task")
    pid = _pid(task)

    ecs_env.runtime.stop()
    assert psutil.pid_exists(pid), "tasks outlive the runtime process, as with the ECS agent"
    ecs_env.runtime.start()
    assert "adopted=1" in ecs_env.runtime.log_path.read_text()
    # The adopted process is watched by a runtime that did not start it: its exit code is read.
    container_child(pid).send_signal(signal.SIGUSR1)
    stopped = ecs_env.wait_status(task["taskArn"], "STOPPED")
    assert stopped["containers"][0]["exitCode"] == 3
    (replacement,) = wait_for(lambda: ecs_env.running("adopt", 1), 15, "one replacement")
    assert replacement["taskArn"] != task["taskArn"]
    assert len(task_pgids(ecs_env.runtime.state_dir)) == 1
    assert os.getpgid(_pid(replacement)) == _pid(replacement)
