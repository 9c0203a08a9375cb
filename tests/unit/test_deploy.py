from __future__ import annotations

import pytest

from repository_manager.deploy import (
    CodeLocation,
    DeployError,
    Platform,
    _same_definition,
    is_stable,
    rendered_definition,
    rolled_back,
    rollout_failure,
    service_specs,
)
from repository_manager.deploy_targets import platform_from_outputs
from repository_manager.infra.task_definitions import render_task_definition


def _platform(**overrides: object) -> Platform:
    values: dict[str, object] = {
        "stack_name": "dagster-ecs",
        "cluster": "dagster-ecs",
        "region": "ap-southeast-2",
        "image": "dagster-ecs:local",
        "bucket": "b",
        "execution_role_arn": "arn:aws:iam::1:role/x",
        "webserver_role_arn": "arn:aws:iam::1:role/w",
        "daemon_role_arn": "arn:aws:iam::1:role/d",
        "code_locations": {
            "zeta": CodeLocation(role_arn="arn:aws:iam::1:role/z"),
            "main": CodeLocation(role_arn="arn:aws:iam::1:role/m"),
        },
        "db_host": "h",
        "db_port": 5432,
        "db_name": "dagster",
        "db_user": "dagster",
        "db_secret_arn": "arn:aws:secretsmanager:ap-southeast-2:1:secret:s",
        "namespace": "dagster-ecs.internal",
        "subnets": ["s"],
        "security_groups": {"webserver": ["gw"], "daemon": ["gd"], "code_location": ["gc"]},
        **overrides,
    }
    return Platform(**values)  # type: ignore[arg-type]


def test_code_locations_deploy_before_the_webserver_and_daemon() -> None:
    specs = service_specs(_platform())
    assert [s.service for s in specs] == ["cl-main", "cl-zeta", "webserver", "daemon"]
    assert [s.cloud_map_name for s in specs] == ["main", "zeta", None, None]
    assert specs[1].variables["task_role_arn"] == "arn:aws:iam::1:role/z"
    assert specs[1].variables["dags_dir"] == "dags/zeta"


def test_every_spec_renders_with_the_shared_templates() -> None:
    for spec in service_specs(_platform()):
        rendered = render_task_definition(spec.template, spec.variables)
        assert rendered["family"].startswith("dagster-ecs-")
        assert rendered["containerDefinitions"][0]["image"] == "dagster-ecs:local"


def test_the_agent_s_key_is_a_secret_of_code_locations_only_and_only_when_given() -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-2:1:secret:stack/s3-access-key"
    for spec in service_specs(_platform(dag_sync_secret_arn=arn)):
        secrets = rendered_definition(spec)["containerDefinitions"][0]["secrets"]
        names = {s["name"]: s["valueFrom"] for s in secrets}
        if spec.template == "code_location":
            assert names == {
                "DAGSTER_POSTGRES_PASSWORD": f"{_platform().db_secret_arn}:password::",
                "DAG_SYNC_AWS_ACCESS_KEY_ID": f"{arn}:AWS_ACCESS_KEY_ID::",
                "DAG_SYNC_AWS_SECRET_ACCESS_KEY": f"{arn}:AWS_SECRET_ACCESS_KEY::",
            }
        else:
            assert "DAG_SYNC_AWS_ACCESS_KEY_ID" not in names, spec.service
    for spec in service_specs(_platform()):
        secrets = rendered_definition(spec)["containerDefinitions"][0]["secrets"]
        assert not [s for s in secrets if s["name"].startswith("DAG_SYNC_")], spec.service


def test_defaults_filled_in_by_ecs_do_not_count_as_a_change() -> None:
    spec = service_specs(_platform())[0]
    wanted = render_task_definition(spec.template, spec.variables)
    stored = {
        **wanted,
        "revision": 3,
        "containerDefinitions": [
            {**wanted["containerDefinitions"][0], "volumesFrom": [], "mountPoints": []}
        ],
    }
    assert _same_definition(stored, wanted)
    changed = {**wanted, "containerDefinitions": [{**wanted["containerDefinitions"][0]}]}
    changed["containerDefinitions"][0]["image"] = "dagster-ecs:v2"
    assert not _same_definition(changed, wanted)
    fewer_env = {**wanted, "containerDefinitions": [{**wanted["containerDefinitions"][0]}]}
    fewer_env["containerDefinitions"][0]["environment"] = []
    assert not _same_definition(fewer_env, wanted)


def test_stable_means_one_completed_deployment_at_the_desired_count() -> None:
    base = {"runningCount": 1, "desiredCount": 1}
    assert is_stable({**base, "deployments": [{"rolloutState": "COMPLETED"}]})
    assert not is_stable({**base, "deployments": [{"rolloutState": "IN_PROGRESS"}]})
    assert not is_stable({**base, "deployments": [{}, {}]})
    assert not is_stable({**base, "runningCount": 0, "deployments": [{}]})


def test_each_kind_of_service_gets_its_own_security_groups() -> None:
    groups = {s.service: s.security_groups for s in service_specs(_platform())}
    assert groups == {"cl-main": ["gc"], "cl-zeta": ["gc"], "webserver": ["gw"], "daemon": ["gd"]}


def test_a_code_location_overrides_image_size_and_module_only_where_it_says_so() -> None:
    own = CodeLocation(
        role_arn="arn:aws:iam::1:role/s", image="sales:7", memory=1024, module_name="sales.defs"
    )
    platform = _platform(code_locations={"sales": own})
    (sales,) = (s for s in service_specs(platform) if s.service == "cl-sales")
    assert (sales.variables["image"], sales.variables["memory"]) == ("sales:7", "1024")
    assert (sales.variables["cpu"], sales.variables["module_name"]) == ("256", "sales.defs")
    (webserver,) = (s for s in service_specs(platform) if s.service == "webserver")
    assert webserver.variables["image"] == "dagster-ecs:local"


def _tofu_deploy_output() -> dict[str, object]:
    """The shape of ``module.stack.deploy`` (infrastructure/modules/stack/outputs.tf)."""
    location = {
        "role_arn": "arn:aws:iam::1:role/tf-cl-main",
        "image": "1.dkr.ecr.ap-southeast-2.amazonaws.com/tf:main",
        "module_name": "dagster_code.definitions",
        "dags_dir": "dags/main",
        "cpu": 256,
        "memory": 512,
        "grpc_port": 4000,
    }
    return {
        "stack_name": "tf",
        "cluster": "tf",
        "region": "ap-southeast-2",
        "image": "1.dkr.ecr.ap-southeast-2.amazonaws.com/tf:main",
        "bucket": "tf-bucket",
        "execution_role_arn": "arn:aws:iam::1:role/tf-execution",
        "webserver_role_arn": "arn:aws:iam::1:role/tf-webserver",
        "daemon_role_arn": "arn:aws:iam::1:role/tf-daemon",
        "db_host": "tf.abc.ap-southeast-2.rds.amazonaws.com",
        "db_port": 5432,
        "db_name": "dagster",
        "db_user": "dagster",
        "db_secret_arn": "arn:aws:secretsmanager:ap-southeast-2:1:secret:rds!db-1",
        "namespace": "tf.internal",
        "subnets": ["subnet-a", "subnet-b"],
        "assign_public_ip": True,
        "security_groups": {"webserver": ["sg-w"], "daemon": ["sg-d"], "code_location": ["sg-c"]},
        "code_locations": {
            "main": location,
            "sales": {**location, "image": "sales:7", "memory": 1024, "dags_dir": "dags/sales"},
        },
        "cpu": 256,
        "memory": 512,
        "webserver_port": 3000,
        "webserver_host": "0.0.0.0",
        "workspace_refresh_seconds": 10,
        "workspace_file": "/opt/dagster/dagster_home/workspace.yaml",
    }


def test_platform_from_tofu_outputs_rolls_only_and_keeps_a_location_s_own_image() -> None:
    platform = platform_from_outputs(_tofu_deploy_output())
    assert not platform.creates_services
    assert platform.assign_public_ip and platform.db_port == 5432
    assert platform.code_locations["main"].image is None
    assert platform.code_locations["sales"].image == "sales:7"
    specs = {s.service: s for s in service_specs(platform)}
    assert specs["cl-sales"].variables["memory"] == "1024"
    assert specs["cl-main"].variables["log_group"] == "/tf/code-locations/main"
    assert specs["daemon"].security_groups == ["sg-d"]


def test_an_output_of_another_version_of_the_modules_is_refused() -> None:
    output = _tofu_deploy_output()
    del output["daemon_role_arn"]
    with pytest.raises(DeployError, match="daemon_role_arn"):
        platform_from_outputs(output)


def test_a_failed_rollout_is_reported_with_ecs_s_reason() -> None:
    service = {
        "serviceName": "webserver",
        "deployments": [{"rolloutState": "FAILED", "rolloutStateReason": "circuit breaker"}],
    }
    assert rollout_failure(service) == "webserver: circuit breaker"
    assert (
        rollout_failure({"serviceName": "w", "deployments": [{"rolloutState": "COMPLETED"}]})
        is None
    )


def test_a_stable_service_on_another_revision_was_rolled_back() -> None:
    service = {
        "serviceName": "webserver",
        "taskDefinition": "arn:td/web:1",
        "events": [{"message": "(service webserver) (deployment d) deployment failed: tasks..."}],
    }
    reason = rolled_back(service, "arn:td/web:2")
    assert reason is not None and "deployment failed" in reason and "arn:td/web:1" in reason
    assert rolled_back({**service, "taskDefinition": "arn:td/web:2"}, "arn:td/web:2") is None
