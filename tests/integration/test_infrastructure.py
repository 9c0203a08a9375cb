"""The full stack on the emulator: offline init, apply, plan = no changes, destroy = nothing left.

Also proves that `dagster-ecs deploy --env local` reads tofu's outputs and renders exactly the task
definitions tofu registered (nothing rolls), that a new image rolls every service without tofu
seeing drift, and that registering repos/{name}/config.yml adds a code location on the next apply.
Everything lives in a temp work dir; nothing is written to the tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import pytest
from botocore.exceptions import ClientError

from repository_manager.infra.binary import unavailable_reason
from repository_manager.infra.runner import REPO_ROOT, InfraRunner
from tests.integration.conftest import enforcing_emulator, iam_user
from tests.integration.ecs_fixtures import make_network

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).parent / "dagster-ecs")


@pytest.fixture(scope="module")
def iac() -> None:
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def clients(url: str) -> dict[str, Any]:
    kwargs = {
        "endpoint_url": url,
        "region_name": "ap-southeast-2",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    names = [
        "ec2",
        "ecs",
        "rds",
        "elbv2",
        "s3",
        "iam",
        "ecr",
        "efs",
        "servicediscovery",
        "secretsmanager",
        "logs",
        "application-autoscaling",
    ]
    return {name: boto3.client(name, **kwargs) for name in names}  # type: ignore[call-overload]


def deploy_cli(state_dir: Path, emulator: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``dagster-ecs deploy --env local`` on the environment under ``state_dir``."""
    return subprocess.run(
        [CLI, "deploy", "--env", "local", "--no-wait", "--emulator-url", emulator, *args],
        env={**os.environ, "DAGSTER_ECS_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def database_answers(secretsmanager: Any, database: dict[str, Any]) -> tuple[str, str]:
    """Connects as a task would (host, port, names from tofu; password from the RDS secret):
    the emulator's DB instance is a real PostgreSQL (dagster_ecs_emulator.rds)."""
    secret = secretsmanager.get_secret_value(SecretId=database["db_secret_arn"])["SecretString"]
    conn = psycopg2.connect(
        host=database["db_host"],
        port=database["db_port"],
        user=database["db_user"],
        password=json.loads(secret)["password"],
        dbname=database["db_name"],
        connect_timeout=5,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            user, name = cursor.fetchone() or ("", "")
            return str(user), str(name)
    finally:
        conn.close()


def service_revisions(ecs: Any, cluster: str) -> dict[str, str]:
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    described = ecs.describe_services(cluster=cluster, services=arns)["services"]
    return {s["serviceName"]: s["taskDefinition"] for s in described}


def test_full_stack_apply_plan_destroy(iac: None, emulator: str, tmp_path: Path) -> None:
    name = f"tf{uuid.uuid4().hex[:6]}"
    bucket = f"{name}-bucket"
    aws = clients(emulator)
    runner = InfraRunner(
        "local",
        work_dir=tmp_path / "infra" / "local",  # where the CLI finds it: $DAGSTER_ECS_STATE_DIR
        emulator_url=emulator,
        stream=False,
        variables={
            "name": name,
            "bucket_name": bucket,
            "enable_nat": True,
            "enable_efs": True,
            "create_s3_user": True,
            "dag_sync_uses_s3_user": True,
        },
    )
    tree_before = sorted(
        p.name for p in (REPO_ROOT / "infrastructure" / "envs" / "local").iterdir()
    )

    runner.init()
    destroyed = False
    try:
        first = runner.apply()
        assert "Apply complete!" in first.output
        vpc_ids = [
            v["VpcId"]
            for v in aws["ec2"].describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])[
                "Vpcs"
            ]
        ]
        assert len(vpc_ids) == 1

        # Registering a repository adds its code location on the next apply.
        aws["s3"].put_object(Bucket=bucket, Key="repos/sales/config.yml", Body=b"memory: 1024\n")
        second = runner.apply()
        assert 'module.stack.module.code_location["sales"]' in second.output

        plan = runner.plan()
        assert plan.returncode == 0, plan.output  # -detailed-exitcode: 0 = no changes

        # --- resources exist
        cluster = aws["ecs"].describe_clusters(clusters=[name])["clusters"][0]
        assert cluster["status"] == "ACTIVE"
        assert set(cluster.get("capacityProviders", [])) == {"FARGATE", "FARGATE_SPOT"}
        services = {
            arn.rsplit("/", 1)[1] for arn in aws["ecs"].list_services(cluster=name)["serviceArns"]
        }
        assert services == {"webserver", "daemon", "cl-main", "cl-sales"}
        (db,) = aws["rds"].describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
        assert (db["DBInstanceClass"], db["Engine"], db["PubliclyAccessible"]) == (
            "db.t3.micro",
            "postgres",
            False,
        )
        assert "MasterUserSecret" in db
        assert [
            lb["LoadBalancerName"]
            for lb in aws["elbv2"].describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"] == name
        ] == [name]
        keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=bucket)["Contents"]}
        assert {"repos/", "system/", "temp/", "dags/"} <= keys
        assert aws["s3"].get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"][
            "BlockPublicAcls"
        ]
        assert aws["s3"].get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        policy = aws["iam"].get_role_policy(RoleName=f"{name}-cl-sales", PolicyName="repo-sales")
        resources = json.dumps(policy["PolicyDocument"])
        assert f"arn:aws:s3:::{bucket}/repos/sales/*" in resources
        assert "repos/main" not in resources
        roles = {
            kind: aws["iam"].get_role_policy(RoleName=f"{name}-{kind}", PolicyName=kind)
            for kind in ("daemon", "webserver")
        }
        assert_platform_roles_work(bucket, {k: r["PolicyDocument"] for k, r in roles.items()})
        assert aws["ecr"].describe_repositories(repositoryNames=[name])["repositories"]
        assert aws["efs"].describe_file_systems(CreationToken=name)["FileSystems"]
        scaled = aws["application-autoscaling"].describe_scalable_targets(ServiceNamespace="ecs")
        assert {
            (t["ResourceId"], t["MinCapacity"], t["MaxCapacity"])
            for t in scaled["ScalableTargets"]
            if t["ResourceId"].startswith(f"service/{name}/")
        } >= {(f"service/{name}/webserver", 1, 2), (f"service/{name}/cl-main", 1, 2)}
        namespaces = [n["Name"] for n in aws["servicediscovery"].list_namespaces()["Namespaces"]]
        assert f"{name}.internal" in namespaces

        # --- `dagster-ecs deploy --env local` renders exactly what tofu registered: no rollout
        every_output = runner.outputs()
        assert every_output["s3_bucket_name"] == every_output["stack"]["bucket_name"]
        assert every_output["load_balancer_url"].startswith("http://")
        # The S3 user's key, as the production design names it: the one in Secrets Manager,
        # and one that S3 accepts (not in the `stack` object, which is not sensitive).
        s3_key = json.loads(
            aws["secretsmanager"].get_secret_value(SecretId=f"{name}/s3-access-key")["SecretString"]
        )
        assert (every_output["aws_access_key_id"], every_output["aws_secret_access_key"]) == (
            s3_key["AWS_ACCESS_KEY_ID"],
            s3_key["AWS_SECRET_ACCESS_KEY"],
        )
        assert "aws_secret_access_key" not in every_output["stack"]
        as_s3_user = boto3.client(
            "s3",
            endpoint_url=emulator,
            region_name="ap-southeast-2",
            aws_access_key_id=every_output["aws_access_key_id"],
            aws_secret_access_key=every_output["aws_secret_access_key"],
        )
        assert as_s3_user.list_objects_v2(Bucket=bucket, Prefix="dags/")["KeyCount"] >= 1
        # The code locations' agents get it as task secrets, read by the execution role.
        main_definition = aws["ecs"].describe_task_definition(
            taskDefinition=every_output["stack"]["task_definition_arns"]["code_location:main"]
        )["taskDefinition"]
        secret_arn = aws["secretsmanager"].describe_secret(SecretId=f"{name}/s3-access-key")["ARN"]
        assert {
            s["name"]: s["valueFrom"] for s in main_definition["containerDefinitions"][0]["secrets"]
        }["DAG_SYNC_AWS_ACCESS_KEY_ID"] == f"{secret_arn}:AWS_ACCESS_KEY_ID::"
        execution = aws["iam"].get_role_policy(RoleName=f"{name}-execution", PolicyName="execution")
        assert secret_arn in json.dumps(execution["PolicyDocument"])
        outputs = every_output["stack"]
        database = outputs["deploy"]  # what the task definitions are rendered with
        assert database_answers(aws["secretsmanager"], database) == (
            database["db_user"],
            database["db_name"],
        )
        arns = outputs["task_definition_arns"]
        tofu_revisions = {
            "webserver": arns["webserver"],
            "daemon": arns["daemon"],
            "cl-main": arns["code_location:main"],
            "cl-sales": arns["code_location:sales"],
        }
        unchanged = deploy_cli(tmp_path, emulator)
        assert "nothing changed" in unchanged.stdout, unchanged.stdout
        assert service_revisions(aws["ecs"], name) == tofu_revisions

        # --- a new image: every service rolls to a new revision, tofu sees no drift
        rolled = deploy_cli(tmp_path, emulator, "--image", "dagster-ecs:v2")
        assert "4 service(s) rolled" in rolled.stdout, rolled.stdout
        revisions = service_revisions(aws["ecs"], name)
        for service, arn in revisions.items():
            assert arn != tofu_revisions[service], service
            definition = aws["ecs"].describe_task_definition(taskDefinition=arn)["taskDefinition"]
            assert definition["containerDefinitions"][0]["image"] == "dagster-ecs:v2"
            if service == "cl-sales":
                assert definition["memory"] == "1024"  # repos/sales/config.yml still applies
        assert runner.plan().returncode == 0
        again = deploy_cli(tmp_path, emulator)  # no --image: the services keep the one they run
        assert "nothing changed" in again.stdout, again.stdout
        assert service_revisions(aws["ecs"], name) == revisions
        family_names = [arn.rsplit("/", 1)[1].rsplit(":", 1)[0] for arn in revisions.values()]

        # --- destroy leaves nothing
        # Deregister: every version of config.yml goes, or the versioned bucket is not empty.
        versions = aws["s3"].list_object_versions(Bucket=bucket, Prefix="repos/sales/")
        for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
            aws["s3"].delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        runner.destroy()
        destroyed = True
        assert not aws["ec2"].describe_vpcs(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])["Vpcs"]
        assert not [
            c
            for c in aws["ecs"].describe_clusters(clusters=[name])["clusters"]
            if c["status"] == "ACTIVE"
        ]
        assert not [
            d
            for d in aws["rds"].describe_db_instances()["DBInstances"]
            if d["DBInstanceIdentifier"] == name
        ]
        with pytest.raises(psycopg2.OperationalError, match="Connection refused"):
            psycopg2.connect(host=database["db_host"], port=database["db_port"], connect_timeout=5)
        assert not [
            lb
            for lb in aws["elbv2"].describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"] == name
        ]
        assert bucket not in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
        assert not [r for r in aws["iam"].list_roles()["Roles"] if r["RoleName"].startswith(name)]
        assert not [u for u in aws["iam"].list_users()["Users"] if u["UserName"].startswith(name)]
        assert not [
            r
            for r in aws["ecr"].describe_repositories()["repositories"]
            if r["repositoryName"] == name
        ]
        assert not aws["efs"].describe_file_systems(CreationToken=name)["FileSystems"]
        assert f"{name}.internal" not in [
            n["Name"] for n in aws["servicediscovery"].list_namespaces()["Namespaces"]
        ]
        assert not [
            s
            for s in aws["secretsmanager"].list_secrets()["SecretList"]
            if s["Name"].startswith(name)
        ]
        assert not aws["logs"].describe_log_groups(logGroupNamePrefix=f"/{name}/")["logGroups"]
        for family in family_names:  # tofu's revisions and the deployer's
            active = aws["ecs"].list_task_definitions(familyPrefix=family, status="ACTIVE")
            assert not active["taskDefinitionArns"], family

        tree_after = sorted(
            p.name for p in (REPO_ROOT / "infrastructure" / "envs" / "local").iterdir()
        )
        assert tree_after == tree_before
    finally:
        if not destroyed:  # leave the shared emulator clean for the other tests
            with contextlib.suppress(Exception):
                runner.destroy()


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assert_platform_roles_work(bucket: str, policies: dict[str, dict[str, Any]]) -> None:
    """The daemon's and the webserver's policies as tofu rendered them, held by users of an
    emulator that enforces IAM: the daemon launches a run task tagged as EcsRunLauncher tags it
    (which ECS authorises as ecs:TagResource too) and writes compute logs; the webserver reads
    them. Either denied, and no run would launch, or its logs show, on AWS."""
    tags = [{"key": "dagster/run_id", "value": "r1"}]
    log_key = "repos/main/logs/storage/r1/compute_logs/step.out"
    with enforcing_emulator() as url:
        admin = iam_user(url, None, "admin", ["*"])
        s3 = admin.client("s3", endpoint_url=url)
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"}
        )
        ecs = admin.client("ecs", endpoint_url=url)
        # The daemon may run tasks only in its own cluster (an ``ecs:cluster`` condition).
        (cluster_arn,) = [
            arn
            for statement in policies["daemon"]["Statement"]
            if "ArnEquals" in (statement.get("Condition") or {})
            for arn in _listed(statement["Condition"]["ArnEquals"]["ecs:cluster"])
        ]
        cluster = cluster_arn.rsplit("/", 1)[-1]
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family="run", containerDefinitions=[{"name": "run", "image": "x", "memory": 128}]
        )
        network = make_network(admin.client("ec2", endpoint_url=url))
        daemon = iam_user(url, admin, "daemon", policy=policies["daemon"])
        daemon_ecs = daemon.client("ecs", endpoint_url=url)
        with pytest.raises(ClientError, match="AccessDenied"):  # any other cluster
            daemon_ecs.run_task(
                cluster="default",
                taskDefinition="run",
                launchType="FARGATE",
                networkConfiguration=network,
                tags=tags,
            )
        launched = daemon_ecs.run_task(
            cluster=cluster,
            taskDefinition="run",
            launchType="FARGATE",
            networkConfiguration=network,
            tags=tags,
        )
        assert launched["tasks"][0]["tags"] == tags
        daemon.client("s3", endpoint_url=url).put_object(Bucket=bucket, Key=log_key, Body=b"out")
        webserver = iam_user(url, admin, "webserver", policy=policies["webserver"])
        got = webserver.client("s3", endpoint_url=url).get_object(Bucket=bucket, Key=log_key)
        assert got["Body"].read() == b"out"


def test_apply_without_an_emulator_is_a_one_line_error(iac: None, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        result = subprocess.run(
            [CLI, "infra", "apply", "--env", "local", "--emulator-url", url],
            env={**os.environ, "DAGSTER_ECS_STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the emulator at {url} is not answering (Could not connect to the endpoint URL: "
        f'"{url}/"); start it with `make dev`, or pass --emulator-url'
    ]
    assert not (tmp_path / "infra" / "local" / "terraform.tfstate").exists()
