"""Parity compares what is the same across environments: two environments built from the same
code, under their own names, compare equal; one changed field is one difference."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from repository_manager.snapshot.model import (
    SNAPSHOT_FORMAT,
    ContainerShape,
    EnvironmentShape,
    LocationShape,
    RoleShape,
    ServiceShape,
    Snapshot,
    SnapshotError,
    TaskDefinitionShape,
)
from repository_manager.snapshot.parity import ABSENT, compare, fields, grants


def _environment(name: str, account: str, stack: str, bucket: str) -> Snapshot:
    role = f"arn:aws:iam::{account}:role/{stack}-cl-main"
    container = ContainerShape(
        name="code-server",
        image="dagster-ecs:v1",
        command=["dagster", "code-server", "start"],
        environment={"DAGSTER_S3_BUCKET": bucket, "DAGSTER_REPO_NAME": "main"},
        secrets={
            "DAGSTER_PG_PASSWORD": (
                f"arn:aws:secretsmanager:ap-southeast-2:{account}:secret:{stack}/db-"
                f"{'AbC123' if name == 'aws' else 'xYz789'}:password::"
            )
        },
        ports=[4000],
        log_group=f"/ecs/{stack}/cl-main",
    )
    return Snapshot(
        taken_at=datetime.now(UTC),
        tool_version="0",
        environment=EnvironmentShape(
            name=name, region="ap-southeast-2", account=account, cluster=stack, bucket=bucket
        ),
        services=[
            ServiceShape(
                name="cl-main",
                desired_count=1,
                cloud_map=[f"{stack}.local/cl-main"],
                task_definition=TaskDefinitionShape(
                    family=f"{stack}-cl-main",
                    revision=7 if name == "aws" else 1,
                    cpu="512",
                    memory="1024",
                    task_role=role,
                    containers=[container],
                ),
            )
        ],
        roles=[
            RoleShape(
                name=f"{stack}-cl-main",
                arn=role,
                trust={"Statement": [{"Principal": {"Service": "ecs-tasks.amazonaws.com"}}]},
                inline={
                    "s3": {
                        "Statement": [
                            {
                                "Action": "s3:PutObject",
                                "Resource": f"arn:aws:s3:::{bucket}/repos/main/*",
                            }
                        ]
                    }
                },
            )
        ],
        locations=[
            LocationShape(
                name="main",
                image="dagster-ecs:v1",
                dag_deployment="12" if name == "aws" else "1",
                dag_release="abc",
            )
        ],
    )


PRODUCTION = _environment("aws", "111122223333", "dagster-ecs", "acme-dagster")
LOCAL = _environment("local", "123456789012", "dagster-ecs-tf", "dagster-ecs-tf-bucket")


def test_the_same_code_under_each_environment_s_own_names_compares_equal() -> None:
    assert compare(PRODUCTION, LOCAL) == []
    assert (
        fields(LOCAL)["service cl-main container code-server env DAGSTER_S3_BUCKET"] == "{bucket}"
    )


def test_one_changed_environment_variable_is_one_difference() -> None:
    changed = LOCAL.model_copy(deep=True)
    changed.services[0].task_definition.containers[0].environment["DEBUG"] = "1"
    changed.services[0].task_definition.containers[0].environment["DAGSTER_REPO_NAME"] = "x"
    found = [(d.field, d.left, d.right) for d in compare(PRODUCTION, changed)]
    prefix = "service cl-main container code-server env"
    assert found == [
        (f"{prefix} DAGSTER_REPO_NAME", "main", "x"),
        (f"{prefix} DEBUG", ABSENT, "1"),
    ]


def test_a_role_policy_and_a_dag_release_are_compared_by_content() -> None:
    changed = LOCAL.model_copy(deep=True)
    changed.roles[0].inline["s3"]["Statement"][0]["Action"] = "s3:GetObject"
    changed.locations[0].dag_release = "def"
    found = {d.field: (d.left, d.right) for d in compare(PRODUCTION, changed)}
    role = "role {stack}-cl-main"
    assert found == {
        f"{role} allow s3:GetObject on arn:aws:s3:::{{bucket}}/repos/main/*": (ABSENT, "yes"),
        f"{role} allow s3:PutObject on arn:aws:s3:::{{bucket}}/repos/main/*": ("yes", ABSENT),
        "location main dag release": ("abc", "def"),
    }


def test_a_policy_compares_by_what_it_grants_not_by_its_names_or_grouping() -> None:
    regrouped = LOCAL.model_copy(deep=True)
    (statement,) = regrouped.roles[0].inline.pop("s3")["Statement"]
    regrouped.roles[0].inline["another-name"] = {
        "Statement": [{**statement, "Action": ["s3:PutObject"], "Sid": "Renamed"}]
    }
    assert compare(PRODUCTION, regrouped) == []
    conditioned = grants(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject"],
                    "Resource": "arn:aws:s3:::b",
                    "Condition": {"StringLike": {"s3:prefix": "repos/a/*"}},
                },
                {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"},
            ]
        }
    )
    assert conditioned == [
        'allow s3:GetObject on arn:aws:s3:::b when {"StringLike":{"s3:prefix":"repos/a/*"}}',
        'allow s3:ListBucket on arn:aws:s3:::b when {"StringLike":{"s3:prefix":"repos/a/*"}}',
        "deny everything but s3:GetObject on *",
    ]


def test_a_service_s_own_ports_are_its_own_placeholder() -> None:
    moved = LOCAL.model_copy(deep=True)
    container = moved.services[0].task_definition.containers[0]
    container.ports = [47003]
    container.command = ["dagster", "code-server", "start", "--port", "47003"]
    production = PRODUCTION.model_copy(deep=True)
    production.services[0].task_definition.containers[0].command = [*container.command[:4], "4000"]
    assert compare(production, moved) == []
    assert fields(moved)["service cl-main container code-server command"].endswith('"{port}"]')


def test_a_snapshot_of_another_format_or_no_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    PRODUCTION.write(path)
    assert Snapshot.read(path) == PRODUCTION
    document = json.loads(path.read_text())
    assert document["contents"][-1] == "never held: secret values, credentials, data objects"
    document["format"] = SNAPSHOT_FORMAT + 1
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotError, match=f"is snapshot format {SNAPSHOT_FORMAT + 1}; this"):
        Snapshot.read(path)
    path.write_text("not json")
    with pytest.raises(SnapshotError, match="is not a snapshot"):
        Snapshot.read(path)
    document["format"] = SNAPSHOT_FORMAT
    del document["services"]
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotError, match="is not a valid snapshot: services: Field required"):
        Snapshot.read(path)


def test_dagster_versions_and_run_launcher_settings_are_compared() -> None:
    from repository_manager.snapshot.model import InstanceShape

    launcher = {
        "module": "dagster_aws.ecs",
        "class": "EcsRunLauncher",
        "config": {"task_definition": "arn:aws:ecs:ap-southeast-2:{account}:task-definition/x"},
    }

    def with_instance(snapshot: Snapshot, version: str, sidecars: bool) -> Snapshot:
        config = {
            **launcher["config"],  # type: ignore[dict-item]
            "include_sidecars": sidecars,
        }
        changed = snapshot.model_copy(deep=True)
        changed.instance = InstanceShape(
            dagster_version=version,
            run_launcher={**launcher, "config": config},
            run_coordinator={"class": "QueuedRunCoordinator"},
        )
        changed.locations[0].dagster_versions = {"dagster": version, "dagster-aws": "0.29.27"}
        return changed

    same = compare(
        with_instance(PRODUCTION, "1.13.27", False), with_instance(LOCAL, "1.13.27", False)
    )
    assert same == []
    found = {
        d.field
        for d in compare(
            with_instance(PRODUCTION, "1.13.27", False), with_instance(LOCAL, "1.13.28", True)
        )
    }
    assert found == {
        "instance dagster version",
        "instance run launcher",
        "location main library dagster version",
    }


def test_library_versions_of_a_location_that_was_not_loaded_are_not_compared() -> None:
    loaded = PRODUCTION.model_copy(deep=True)
    loaded.locations[0].dagster_versions = {"dagster": "1.13.27"}
    loading = LOCAL.model_copy(deep=True)
    loading.locations[0].dagster_versions = None
    assert compare(loaded, loading) == []
    older = LOCAL.model_copy(deep=True)
    older.locations[0].dagster_versions = {"dagster": "1.13.26"}
    assert [d.field for d in compare(loaded, older)] == ["location main library dagster version"]


def test_the_instance_s_settings_keep_no_secret_value() -> None:
    from repository_manager.snapshot.instance import MASKED, masked

    config = {
        "password": "hunter2",
        "postgres_db": {"password": {"env": "DAGSTER_PG_PASSWORD"}, "hostname": "db"},
        "env_vars": ["PLAIN", "API_TOKEN=abc123"],
        "secrets": ["arn:aws:secretsmanager:ap-southeast-2:1:secret:x"],
    }
    assert masked(config) == {
        "password": MASKED,
        "postgres_db": {"password": {"env": "DAGSTER_PG_PASSWORD"}, "hostname": "db"},
        "env_vars": ["PLAIN", f"API_TOKEN={MASKED}"],
        "secrets": ["arn:aws:secretsmanager:ap-southeast-2:1:secret:x"],
    }


def test_each_environment_s_own_wiring_is_compared_by_presence() -> None:
    """The database (its address and its password's secret, named in the execution role's
    grant), the workspace file (in the command), the deployment percentages and an image held
    in each stack's own ECR repository: equal where each is the environment's own."""

    def wired(snapshot: Snapshot, secret: str, port: str, workspace: str, percent: int) -> Snapshot:
        changed = snapshot.model_copy(deep=True)
        env = changed.environment
        arn = f"arn:aws:secretsmanager:{env.region}:{env.account}:secret:{secret}"
        service = changed.services[0]
        service.minimum_healthy_percent, service.maximum_percent = percent, percent + 100
        container = service.task_definition.containers[0]
        container.secrets["DAGSTER_POSTGRES_PASSWORD"] = f"{arn}:password::"
        container.environment.update(
            {"DAGSTER_POSTGRES_PORT": port, "DAGSTER_WORKSPACE_FILE": workspace}
        )
        container.command = ["dagster-daemon", "run", "--workspace", workspace]
        digest = "sha256:" + "a" * 64
        container.image = (
            f"{env.account}.dkr.ecr.{env.region}.amazonaws.com/{env.cluster}-repos/x@{digest}"
        )
        grant = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}
        changed.roles[0].inline["execution"] = {"Statement": [grant]}
        return changed

    production = wired(PRODUCTION, "rds!db-1234-AbC123", "5432", "/opt/dagster/w.yaml", 100)
    local = wired(LOCAL, "dagster-ecs-tf/postgres-xYz789", "45612", "/tmp/state/w.yaml", 0)
    assert compare(production, local) == []
    unwired = local.model_copy(deep=True)
    unwired.services[0].task_definition.containers[0].environment.pop("DAGSTER_POSTGRES_PORT")
    assert [d.field for d in compare(production, unwired)] == [
        "service cl-main container code-server env DAGSTER_POSTGRES_PORT"
    ]
