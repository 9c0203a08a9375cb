from __future__ import annotations

from repository_manager.deploy import Platform, _same_definition, is_stable, service_specs
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
        "location_role_arns": {"zeta": "arn:aws:iam::1:role/z", "main": "arn:aws:iam::1:role/m"},
        "db_host": "h",
        "db_port": 5432,
        "db_name": "dagster",
        "db_user": "dagster",
        "db_secret_arn": "arn:aws:secretsmanager:ap-southeast-2:1:secret:s",
        "namespace": "dagster-ecs.internal",
        "subnets": ["s"],
        "security_groups": ["g"],
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
