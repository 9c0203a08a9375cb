"""The emulator's ECS writes and the runtime's reports are ordered by one lock: moto's
UpdateService inserts a deployment into ``service.deployments`` while a report rewrites that
list, so an unordered pair loses the new deployment. Served by a real moto WSGI app over HTTP,
called with boto3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from dagster_ecs_emulator.ecs_hook import EcsLocalMiddleware

REGION = "eu-north-1"


@pytest.fixture
def served() -> Iterator[tuple[EcsLocalMiddleware, Any]]:
    middleware = EcsLocalMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, middleware, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ecs = boto3.client(
        "ecs",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        yield middleware, ecs
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_an_ecs_write_waits_for_the_hook_lock(served: tuple[EcsLocalMiddleware, Any]) -> None:
    middleware, ecs = served
    ecs.create_cluster(clusterName="lock")
    ecs.register_task_definition(
        family="lock", containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}]
    )
    ecs.create_service(cluster="lock", serviceName="svc", taskDefinition="lock", desiredCount=0)
    answers: list[int] = []

    def update() -> None:
        response = ecs.update_service(cluster="lock", service="svc", desiredCount=1)
        answers.append(response["service"]["desiredCount"])

    caller = threading.Thread(target=update)
    with middleware.lock:
        caller.start()
        caller.join(timeout=2.0)
        assert caller.is_alive(), "UpdateService ran while the hook held its lock"
        assert answers == []
    caller.join(timeout=30.0)
    assert not caller.is_alive()
    assert answers == [1]


def test_other_services_do_not_wait_for_the_hook_lock(
    served: tuple[EcsLocalMiddleware, Any],
) -> None:
    middleware, ecs = served
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=ecs.meta.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with middleware.lock:
        assert sts.get_caller_identity()["Account"]
