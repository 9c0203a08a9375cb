"""The runtime names what it cannot honour, on the task definitions the platform registers."""

from __future__ import annotations

from ecs_local.unsupported import host_architecture, unsupported_features
from repository_manager.infra.task_definitions import render_task_definition, template_variables


def _rendered(name: str) -> dict:
    return render_task_definition(name, {v: "1" for v in template_variables(name)})


def test_the_code_location_s_arm64_platform_is_named_unless_the_host_is_arm64() -> None:
    found = unsupported_features(_rendered("code_location"))
    if host_architecture() == "ARM64":
        assert found == []
    else:
        assert found == [
            f"runtimePlatform ARM64 is not emulated: the task runs as {host_architecture()}"
        ]


def test_efs_volumes_mount_points_and_load_balancers_are_named() -> None:
    definition = {
        "volumes": [{"name": "dags", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
        "containerDefinitions": [
            {"name": "app", "mountPoints": [{"sourceVolume": "dags", "containerPath": "/dags"}]}
        ],
    }
    service = {"loadBalancers": [{"targetGroupArn": "arn:tg", "containerPort": 3000}]}
    assert unsupported_features(definition, service) == [
        "EFS volume dags (fs-1) is not mounted",
        "container app: mount point /dags is not provided (the task's own folder stands in)",
        "load balancer target arn:tg is not registered with",
    ]
    assert unsupported_features({"containerDefinitions": [{"name": "app"}]}) == []
