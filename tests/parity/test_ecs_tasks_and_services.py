"""ECS behaviours as AWS documents them, each test quoting the page it follows, run against the
real emulator, the ECS runtime and real task processes (`make test` runs this suite).

docs/ecs-emulation.md lists what still differs and why.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from ecs_local.lifecycle import stages
from ecs_local.unsupported import host_architecture
from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import (
    PY,
    READY,
    SERVER,
    STUBBORN,
    EcsEnv,
    app_container,
    ecs_env,
)
from tests.integration.test_ecs_local_circuit_breaker import (
    BREAKER,
    THRESHOLD,
    _completed,
    _service,
    _tasks_of,
)

__all__ = ["ecs_env"]
pytestmark = pytest.mark.integration

# No health check: RUNNING (so "healthy") for a second, then exits 1. The good task is replaced
# by it, as on ECS; its deployment must not complete, and its failures trip the breaker.
CRASHES_AFTER_START = {
    "name": "app",
    "image": PY,
    "command": ["python", "-c", "import sys, time; time.sleep(1); sys.exit(1)"],
}


# "How the Amazon ECS deployment circuit breaker detects failures" (ECS developer guide): "The
# deployment circuit breaker is the rolling update mechanism that determines if the tasks reach
# a steady state ... When the deployment circuit breaker determines that a deployment failed, it
# looks for the most recent deployment that is in a COMPLETED state" and rolls back to it; the
# threshold is "0.5 * desired task count" bounded to 3..200 (ServiceDeploymentCircuitBreaker).
def test_a_revision_crashing_after_start_is_rolled_back(ecs_env: EcsEnv) -> None:
    good_deployment = _completed(ecs_env, "crash", BREAKER)
    good = _service(ecs_env, "crash")["taskDefinition"]
    (good_task,) = wait_for(lambda: ecs_env.running("crash", 1), 10, "the good task")
    crashing = ecs_env.register("crash", [CRASHES_AFTER_START])
    updated = ecs_env.ecs.update_service(
        cluster=ecs_env.cluster, service="crash", taskDefinition=crashing
    )
    bad_deployment = next(
        d["id"] for d in updated["service"]["deployments"] if d["status"] == "PRIMARY"
    )

    def rolled_back_and_running() -> dict[str, Any] | None:
        service = _service(ecs_env, "crash")
        primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
        done = primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED"
        return service if done and ecs_env.running("crash", 1) else None

    service = wait_for(rolled_back_and_running, 90, "the rollback to the good revision")
    assert service["taskDefinition"] == good
    bad_tasks = _tasks_of(ecs_env, "crash", crashing)
    assert len(bad_tasks) >= THRESHOLD
    assert all(t["stopCode"] == "EssentialContainerExited" for t in bad_tasks)
    messages = [e["message"] for e in service["events"]]
    assert (
        f"(service crash) (deployment {bad_deployment}) deployment failed: tasks failed to start."
        in messages
    )
    assert f"(service crash) (deployment {bad_deployment}) deployment completed." not in messages
    # The scheduler's own events: it replaced the good task by a crashing one, then rolled back.
    good_id = good_task["taskArn"].rsplit("/", 1)[1]
    assert f"(service crash) has stopped 1 running tasks: (task {good_id})." in messages
    first_bad = min(bad_tasks, key=lambda t: t["createdAt"])["taskArn"].rsplit("/", 1)[1]
    assert f"(service crash) has started 1 tasks: (task {first_bad})." in messages
    assert good_deployment not in {d["id"] for d in service["deployments"]}  # drained, redeployed


# "Task lifecycle" (ECS developer guide): PROVISIONING, PENDING, ACTIVATING ("Amazon ECS has
# to perform additional steps after the task is launched but before the task can transition to
# the RUNNING state", such as service discovery and load balancer registration), RUNNING,
# DEACTIVATING, STOPPING ("waiting on the container agent to take further action"),
# DEPROVISIONING, STOPPED.
def test_a_service_task_reports_ecs_s_lifecycle_in_order(ecs_env: EcsEnv) -> None:
    """Every lastStatus seen while it starts and stops lies on ECS's path, in its order; the
    SIGTERM-ignoring container holds it in STOPPING for its stopTimeout."""
    td = ecs_env.register("life", [app_container(STUBBORN, stopTimeout=2, healthCheck=READY)])
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


# HealthCheck (ECS API reference): "If a task is run manually, and not as part of a service,
# the task will continue its lifecycle regardless of its health status. For tasks that are part
# of a service, if the task reports as unhealthy then the task will be stopped and the service
# scheduler will replace it."
def test_an_unhealthy_standalone_task_runs_on(ecs_env: EcsEnv) -> None:
    """ECS acts on health only for service tasks: a run_task task keeps its lifecycle."""
    check = {"command": ["CMD-SHELL", "false"], "interval": 5, "retries": 1, "timeout": 2}
    sick = ecs_env.register("sick-alone", [app_container(SERVER, healthCheck=check)])
    task = ecs_env.run_task(sick)
    unhealthy = wait_for(
        lambda: (d := ecs_env.describe([task["taskArn"]])[0])["healthStatus"] == "UNHEALTHY" and d,
        30,
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


# "Amazon ECS service throttle logic" (ECS developer guide): "If tasks for a service repeatedly
# fail to enter the RUNNING state (progressing directly from a PENDING to a STOPPED status),
# then the time between subsequent restart attempts is incrementally increased up to a maximum
# of 27 minutes ... you receive the following service event message: (service service-name) is
# unable to consistently start tasks successfully." "If you update your service to use a new
# task definition, your service returns to a normal, non-throttled state immediately."
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
    fixed = ecs_env.register("ghost", [app_container(SERVER)])
    ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="ghost", taskDefinition=fixed)
    (task,) = wait_for(lambda: ecs_env.running("ghost", 1), 10, "the fixed revision's task")
    assert task["taskDefinitionArn"] == fixed


# The same page: "Tasks that are stopped after they reach the RUNNING state don't start the
# throttle logic or the associated service event message ... Even if a task's container command
# immediately exits with a non-zero exit code, the task already moved to the RUNNING state."
def test_a_crash_loop_is_replaced_unthrottled_but_not_in_a_busy_loop(ecs_env: EcsEnv) -> None:
    """A container that exits at once reached RUNNING: ECS does not throttle it (no growing
    gaps, no event); the runtime waits its constant 1 s before each replacement."""
    td = ecs_env.register("crash", [app_container("import sys; sys.exit(1)")])
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


# Not an AWS behaviour: what ECS would honour and a process runtime cannot (issue: "make the
# emulator say so ... rather than silently ignore it"); docs/ecs-emulation.md gives the reasons.
def test_what_the_runtime_cannot_honour_is_named_in_the_service_s_events(
    ecs_env: EcsEnv,
) -> None:
    other = "X86_64" if host_architecture() == "ARM64" else "ARM64"
    td = ecs_env.register(
        "unsupported",
        [app_container(SERVER, mountPoints=[{"sourceVolume": "dags", "containerPath": "/dags"}])],
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


# HealthCheck (ECS API reference): "For tasks that are part of a service, if the task reports as
# unhealthy then the task will be stopped and the service scheduler will replace it." A check
# whose binary the image lacks fails (Docker cannot exec it); it must not stall other services.
def test_a_check_that_cannot_run_fails_that_task_only(ecs_env: EcsEnv) -> None:
    check = {"command": ["CMD", "/nonexistent/curl", "-f", "http://localhost/"], "interval": 5}
    no_curl = ecs_env.register(
        "no-curl", [app_container(SERVER, healthCheck={**check, "retries": 1})]
    )
    ecs_env.create_service("no-curl", no_curl, 1)
    (first,) = wait_for(lambda: ecs_env.running("no-curl", 1), 20, "the no-curl task")
    ecs_env.create_service("well", ecs_env.register("well", [app_container(SERVER)]), 1)
    stopped = ecs_env.wait_status(first["taskArn"], "STOPPED", timeout=40)
    assert stopped["stoppedReason"] == "Task failed container health checks"
    assert stopped["containers"][0]["healthStatus"] == "UNHEALTHY"
    wait_for(lambda: ecs_env.running("well", 1), 20, "the other service's task")
    for name in ("no-curl", "well"):
        ecs_env.ecs.update_service(cluster=ecs_env.cluster, service=name, desiredCount=0)
