"""The ECS runtime against the real emulator, with real task processes."""

from __future__ import annotations

import itertools
import os
import signal
import threading
from typing import Any

import psutil
import pytest

from ecs_local.lifecycle import stages
from ecs_local.unsupported import host_architecture
from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, container_child, ecs_env, task_pgids

__all__ = ["ecs_env"]

# Exits with code 3 on SIGUSR1, so a test can make a task fail with a known exit code.
SERVER = (
    "import signal, sys, time; signal.signal(signal.SIGUSR1, lambda *a: sys.exit(3)); "
    "open('usr1-ready', 'w').close(); print('up', flush=True); time.sleep(600)"
)
# Ignores SIGTERM, then reports healthy: a test stops it only once the handler is in place.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open('ignoring-sigterm', 'w').close(); time.sleep(600)"
)
READY = {"command": ["CMD-SHELL", "test -f ignoring-sigterm"], "interval": 1, "retries": 3}


def _app(command: str, **extra: object) -> dict[str, object]:
    return {"name": "app", "image": PY, "command": ["python", "-c", command], **extra}


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
        20,
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


THROTTLED = "(service ghost) is unable to consistently start tasks successfully."


def test_a_service_whose_tasks_never_start_is_throttled_until_a_new_revision(
    ecs_env: EcsEnv,
) -> None:
    ghost = ecs_env.register("ghost", [{"name": "app", "image": "example.com/ghost:1"}])
    ecs_env.create_service("ghost", ghost, 1)

    def attempts() -> list[dict[str, Any]]:
        arns = ecs_env.ecs.list_tasks(
            cluster=ecs_env.cluster, serviceName="ghost", desiredStatus="STOPPED"
        )["taskArns"]
        return sorted(ecs_env.describe(arns), key=lambda t: t["createdAt"])

    tasks = wait_for(lambda: found if len(found := attempts()) >= 6 else None, 60, "6 attempts")
    assert all(t["stopCode"] == "TaskFailedToStart" for t in tasks)
    created = [t["createdAt"] for t in tasks]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(created)]
    assert gaps[2] >= 1.9 and gaps[4] >= 7.9, gaps  # 0.5 s doubling: at least 2 s, then 8 s
    service = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["ghost"])
    messages = [e["message"] for e in service["services"][0]["events"]]
    assert messages.count(THROTTLED) == 1, messages

    # The next attempt waits 16 s; a new task definition starts one at once.
    fixed = ecs_env.register("ghost", [_app(SERVER)])
    ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="ghost", taskDefinition=fixed)
    (task,) = wait_for(lambda: ecs_env.running("ghost", 1), 10, "the fixed revision's task")
    assert task["taskDefinitionArn"] == fixed


def test_unhealthy_task_is_stopped_and_replaced(ecs_env: EcsEnv) -> None:
    check = {"command": ["CMD-SHELL", "test -f healthy"], "interval": 1, "retries": 2, "timeout": 2}
    sick = ecs_env.register("sick", [_app(SERVER, healthCheck=check)])
    ecs_env.create_service("sick", sick, 1)
    first = wait_for(lambda: ecs_env.running("sick", 1), 15, "a RUNNING task")[0]
    stopped = ecs_env.wait_status(first["taskArn"], "STOPPED", timeout=15)
    assert stopped["stoppedReason"] == "Task failed container health checks"
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"  # the scheduler replaced it
    assert stopped["containers"][0]["healthStatus"] == "UNHEALTHY"
    wait_for(
        lambda: [t for t in ecs_env.running("sick", 1) or [] if t["taskArn"] != first["taskArn"]],
        15,
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
        20,
        "a HEALTHY task",
    )
    assert healthy[0]["containers"][0]["healthStatus"] == "HEALTHY"


def test_a_service_task_reports_ecs_s_lifecycle_in_order(ecs_env: EcsEnv) -> None:
    """Every lastStatus seen while it starts and stops lies on ECS's path, in its order; the
    SIGTERM-ignoring container holds it in STOPPING for its stopTimeout."""
    td = ecs_env.register("life", [_app(STUBBORN, stopTimeout=2, healthCheck=READY)])
    ecs_env.create_service("life", td, 1)
    path = stages(in_service=True, started=True)
    seen: list[str] = []
    versions: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            arns = ecs_env.ecs.list_tasks(cluster=ecs_env.cluster, serviceName="life")["taskArns"]
            stopped = ecs_env.ecs.list_tasks(
                cluster=ecs_env.cluster, serviceName="life", desiredStatus="STOPPED"
            )["taskArns"]
            for task in ecs_env.describe(arns + stopped)[:1]:
                if not seen or seen[-1] != task["lastStatus"]:
                    seen.append(task["lastStatus"])
                    versions.append(task["version"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        (task,) = wait_for(lambda: ecs_env.running("life", 1), 20, "a RUNNING task")
        wait_for(
            lambda: ecs_env.describe([task["taskArn"]])[0]["healthStatus"] == "HEALTHY",
            20,
            "healthy",
        )
        ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="life", desiredCount=0)
        stopped = ecs_env.wait_status(task["taskArn"], "STOPPED", timeout=20)
    finally:
        done.set()
        watcher.join()
    assert [path.index(status) for status in seen] == sorted(path.index(s) for s in seen), seen
    assert {"RUNNING", "STOPPING", "STOPPED"} <= set(seen), seen
    assert versions == sorted(set(versions)), versions  # ECS's counter grows with each change
    assert stopped["stoppedAt"] >= stopped["stoppingAt"]


def test_an_unhealthy_standalone_task_runs_on(ecs_env: EcsEnv) -> None:
    """ECS acts on health only for service tasks: a run_task task keeps its lifecycle."""
    check = {"command": ["CMD-SHELL", "false"], "interval": 1, "retries": 1, "timeout": 2}
    sick = ecs_env.register("sick-alone", [_app(SERVER, healthCheck=check)])
    task = ecs_env.run_task(sick)
    unhealthy = wait_for(
        lambda: (d := ecs_env.describe([task["taskArn"]])[0])["healthStatus"] == "UNHEALTHY" and d,
        20,
        "the task to turn UNHEALTHY",
    )
    assert unhealthy["lastStatus"] == "RUNNING"
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(
            lambda: ecs_env.describe([task["taskArn"]])[0]["lastStatus"] != "RUNNING",
            4,
            "the unhealthy standalone task to stop",
        )
    ecs_env.ecs.stop_task(cluster=ecs_env.cluster, task=task["taskArn"], reason="done")
    ecs_env.wait_status(task["taskArn"], "STOPPED")


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


def test_a_crash_loop_is_replaced_unthrottled_but_not_in_a_busy_loop(ecs_env: EcsEnv) -> None:
    """A container that exits at once reached RUNNING: ECS does not throttle it (no growing
    gaps, no event); the runtime waits its constant 1 s before each replacement."""
    td = ecs_env.register("crash", [_app("import sys; sys.exit(1)")])
    ecs_env.create_service("crash", td, 1)

    def four_crashes() -> list[dict] | None:  # type: ignore[type-arg]
        arns = ecs_env.ecs.list_tasks(
            cluster=ecs_env.cluster, serviceName="crash", desiredStatus="STOPPED"
        )["taskArns"]
        return ecs_env.describe(arns) if len(arns) >= 4 else None

    tasks = wait_for(four_crashes, 30, "4 crashes")
    starts = sorted(t["startedAt"] for t in tasks if t.get("startedAt"))[:4]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert all(t["containers"][0]["exitCode"] == 1 for t in tasks)
    assert min(gaps) >= 0.95, gaps
    service = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["crash"])
    messages = [e["message"] for e in service["services"][0]["events"]]
    assert "(service crash) is unable to consistently start tasks successfully." not in messages


def test_what_the_runtime_cannot_honour_is_named_in_the_service_s_events(
    ecs_env: EcsEnv,
) -> None:
    other = "X86_64" if host_architecture() == "ARM64" else "ARM64"
    td = ecs_env.register(
        "unsupported",
        [_app(SERVER, mountPoints=[{"sourceVolume": "dags", "containerPath": "/dags"}])],
        runtimePlatform={"cpuArchitecture": other, "operatingSystemFamily": "LINUX"},
        volumes=[{"name": "dags", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678"}}],
    )
    target = "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:targetgroup/web/1"
    ecs_env.create_service(
        "unsupported",
        td,
        1,
        loadBalancers=[{"targetGroupArn": target, "containerName": "app", "containerPort": 80}],
    )
    wait_for(lambda: ecs_env.running("unsupported", 1), 20, "the task, run regardless")

    def notices() -> list[str]:
        service = ecs_env.ecs.describe_services(cluster=ecs_env.cluster, services=["unsupported"])
        return [
            e["message"]
            for e in service["services"][0]["events"]
            if e["message"].startswith("(service unsupported) ecs_local:")
        ]

    found = wait_for(lambda: (n := notices()) and len(n) == 4 and n, 20, "the notices")
    assert set(found) == {
        f"(service unsupported) ecs_local: runtimePlatform {other} is not emulated: "
        f"the task runs as {host_architecture()}.",
        "(service unsupported) ecs_local: EFS volume dags (fs-12345678) is not mounted.",
        "(service unsupported) ecs_local: container app: mount point /dags is not provided "
        "(the task's own folder stands in).",
        f"(service unsupported) ecs_local: load balancer target {target} is not registered with.",
    }
