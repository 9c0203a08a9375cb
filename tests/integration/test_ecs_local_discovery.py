"""Cloud Map registration of service tasks, the workspace rendered from it, and service logs."""

from __future__ import annotations

import boto3
import pytest
import yaml

from repository_manager.logs import read_logs
from repository_manager.workspace import cloud_map_client, workspace_from_cloud_map
from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env

__all__ = ["ecs_env"]

SERVE = "import time; print('code server up', flush=True); time.sleep(600)"


def _instances(sd: object, service_id: str) -> list[dict]:
    return list(sd.list_instances(ServiceId=service_id)["Instances"])  # type: ignore[attr-defined]


def test_service_tasks_register_in_cloud_map_and_render_a_workspace(ecs_env: EcsEnv) -> None:
    sd = cloud_map_client()
    sd.create_http_namespace(Name="dagster.local")
    namespace = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "dagster.local")
    registry = sd.create_service(Name="repo-a", NamespaceId=namespace["Id"])["Service"]
    td = ecs_env.register(
        "repo-a",
        [
            {
                "name": "code",
                "image": PY,
                "command": ["python", "-c", SERVE],
                "portMappings": [{"containerPort": 4000}],
            }
        ],
    )
    # One task: tasks share the host's network here, so a second one on port 4000 waits.
    ecs_env.create_service("repo-a", td, 1, serviceRegistries=[{"registryArn": registry["Arn"]}])
    tasks = wait_for(lambda: ecs_env.running("repo-a", 1), 15, "a RUNNING task")
    instances = wait_for(
        lambda: len(_instances(sd, registry["Id"])) == 1 and _instances(sd, registry["Id"]),
        10,
        "an instance",
    )
    addresses = {
        {d["name"]: d["value"] for d in t["attachments"][0]["details"]}["privateIPv4Address"]
        for t in tasks
    }
    assert {i["Attributes"]["AWS_INSTANCE_IPV4"] for i in instances} == addresses
    assert {i["Attributes"]["AWS_INSTANCE_PORT"] for i in instances} == {"4000"}
    assert {i["Id"] for i in instances} == {t["taskArn"].rsplit("/", 1)[-1] for t in tasks}

    workspace = yaml.safe_load(workspace_from_cloud_map(sd, "dagster.local"))
    (entry,) = workspace["load_from"]
    assert entry["grpc_server"]["location_name"] == "repo-a"
    assert entry["grpc_server"]["host"] in addresses and entry["grpc_server"]["port"] == 4000

    ecs_env.ecs.update_service(cluster=ecs_env.cluster, service="repo-a", desiredCount=0)
    wait_for(lambda: not _instances(sd, registry["Id"]), 15, "instances deregistered")
    wait_for(lambda: ecs_env.running("repo-a", 0) is not None, 15, "service drained")


def test_logs_command_reads_cloudwatch(ecs_env: EcsEnv) -> None:
    logs_config = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/chatty",
            "awslogs-stream-prefix": "ecs",
            "awslogs-create-group": "true",
        },
    }
    td = ecs_env.register(
        "chatty",
        [
            {
                "name": "app",
                "image": PY,
                "logConfiguration": logs_config,
                "command": [
                    "python",
                    "-c",
                    "import sys, time; print('hello out', flush=True); "
                    "print('hello err', file=sys.stderr, flush=True); time.sleep(600)",
                ],
            }
        ],
    )
    ecs_env.create_service("chatty", td, 1)
    (task,) = wait_for(lambda: ecs_env.running("chatty", 1), 15, "a RUNNING task")
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    logs = boto3.client("logs", endpoint_url=ecs_env.endpoint)

    def messages() -> set[str]:
        events = logs.get_log_events(
            logGroupName="/ecs/chatty", logStreamName=f"ecs/app/{task_id}"
        )["events"]
        return {e["message"] for e in events}

    wait_for(lambda: {"hello out", "hello err"} <= messages(), 10, "log events in CloudWatch")
    ecs = boto3.client("ecs", endpoint_url=ecs_env.endpoint)
    lines = read_logs(ecs, logs, ecs_env.cluster, "chatty", 200)
    assert f"[{task_id[:8]}] hello err" in lines
    with pytest.raises(LookupError, match=r"no service .nope. in cluster .*; its services: chatty"):
        read_logs(ecs, logs, ecs_env.cluster, "nope", 200)
