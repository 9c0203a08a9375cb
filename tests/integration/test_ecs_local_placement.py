"""Placement on the shared host network: a task never starts while its host port is held."""

from __future__ import annotations

from tests.integration.conftest import free_port, wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env

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
