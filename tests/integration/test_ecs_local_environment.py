"""What a task sees from inside: secrets, task metadata v4, task-role credentials, logs, IAM."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.conftest import ECS_TASKS_TRUST, running_emulator, wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env, ecs_environment

__all__ = ["ecs_env"]

PROBE = r"""
import json, os, urllib.request
import boto3
def get(url):
    return json.loads(urllib.request.urlopen(url, timeout=5).read())
meta = os.environ["ECS_CONTAINER_METADATA_URI_V4"]
s3 = boto3.client("s3")
results = {}
for key in ("repos/a/x", "repos/b/x"):
    try:
        s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=b"1")
        results[key] = "ok"
    except Exception as error:
        results[key] = type(error).__name__ + str(getattr(error, "response", {}).get("Error", {}))
sd = boto3.client("servicediscovery")
found = sd.discover_instances(NamespaceName="probe.local", ServiceName="db")
print("probe starting")
print()  # an empty line: the awslogs driver drops it instead of failing the whole batch
print(json.dumps({
    "env": {k: v for k, v in os.environ.items()},
    "task": get(meta + "/task"),
    "container": get(meta),
    "identity": boto3.client("sts").get_caller_identity()["Arn"],
    "s3": results,
    "discovered": [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found["Instances"]],
}), flush=True)
"""


def _role(iam: object, name: str, policy: dict) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST))[
        "Role"
    ]["Arn"]  # type: ignore[attr-defined]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))  # type: ignore[attr-defined]
    return str(arn)


def _admin_session(admin: dict[str, str]) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
        region_name="ap-southeast-2",
    )


def _probe_output(env: EcsEnv, logs: object, td: str) -> dict:
    task = env.run_task(td)
    stopped = env.wait_status(task["taskArn"], "STOPPED", timeout=30)
    assert stopped["containers"][0].get("exitCode") == 0, stopped["stoppedReason"]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    events = logs.get_log_events(  # type: ignore[attr-defined]
        logGroupName="/ecs/probe", logStreamName=f"probe/app/{task_id}"
    )["events"]
    lines = [e["message"] for e in events if e["message"].startswith("{")]
    assert lines, events
    assert events[0]["message"] == "probe starting", events
    return {"task": stopped, **json.loads(lines[-1])}


@pytest.fixture(scope="module")
def iam_emulator() -> Iterator[tuple[str, dict[str, str]]]:
    """An emulator with IAM enforcement: the first calls (creating an admin user) are free."""
    with running_emulator(env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as url:
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="ap-southeast-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        iam.create_user(UserName="admin")
        admin = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(admin))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        yield (
            url,
            {
                "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            },
        )


ENV_FILE = '# not a variable\n\nFROM_FILE="quoted" and spaced \nBUCKET=from-the-file\n'


def test_task_sees_secrets_metadata_and_its_role(
    iam_emulator: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, admin = iam_emulator
    session = _admin_session(admin)
    iam, logs = session.client("iam", endpoint_url=url), session.client("logs", endpoint_url=url)
    secret_arn = session.client("secretsmanager", endpoint_url=url).create_secret(
        Name="db", SecretString=json.dumps({"password": "s3cr3t", "user": "u"})
    )["ARN"]
    session.client("ssm", endpoint_url=url).put_parameter(
        Name="/app/flag", Value="on", Type="SecureString"
    )
    s3 = session.client("s3", endpoint_url=url)
    s3.create_bucket(
        Bucket="probe-bucket", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"}
    )
    s3.put_object(Bucket="probe-bucket", Key="config/app.env", Body=ENV_FILE.encode())
    task_role = _role(
        iam,
        "repo-a",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::probe-bucket/repos/a/*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["sts:GetCallerIdentity", "servicediscovery:DiscoverInstances"],
                    "Resource": "*",
                },
            ],
        },
    )
    sd = session.client("servicediscovery", endpoint_url=url)
    sd.create_http_namespace(Name="probe.local")
    namespace = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "probe.local")
    db = sd.create_service(Name="db", NamespaceId=namespace["Id"])["Service"]
    sd.register_instance(
        ServiceId=db["Id"], InstanceId="db-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.9"}
    )
    execution_role = _role(
        iam,
        "exec",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter", "logs:*"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::probe-bucket/config/*",
                },
            ],
        },
    )
    gen = ecs_environment(url, tmp_path, admin)
    env = next(gen)
    try:
        td = env.register(
            "probe",
            [
                {
                    "name": "app",
                    "image": PY,
                    "command": ["python", "-c", PROBE],
                    "environment": [{"name": "BUCKET", "value": "probe-bucket"}],
                    "environmentFiles": [
                        {"type": "s3", "value": "arn:aws:s3:::probe-bucket/config/app.env"}
                    ],
                    "secrets": [
                        {"name": "DB_PASSWORD", "valueFrom": f"{secret_arn}:password::"},
                        {"name": "DB_JSON", "valueFrom": secret_arn},
                        {"name": "FLAG", "valueFrom": "/app/flag"},
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/probe",
                            "awslogs-region": "ap-southeast-2",
                            "awslogs-stream-prefix": "probe",
                            "awslogs-create-group": "true",
                        },
                    },
                }
            ],
            taskRoleArn=task_role,
            executionRoleArn=execution_role,
        )
        out = _probe_output(env, logs, td)
    finally:
        gen.close()

    task_env = out["env"]
    assert task_env["DB_PASSWORD"] == "s3cr3t"
    assert json.loads(task_env["DB_JSON"])["user"] == "u"
    assert task_env["FLAG"] == "on" and task_env["BUCKET"] == "probe-bucket"
    # The environment file, read with the execution role: verbatim values, `environment` wins.
    assert task_env["FROM_FILE"] == '"quoted" and spaced '
    assert "# not a variable" not in json.dumps(task_env)
    assert "AWS_ACCESS_KEY_ID" not in task_env and "AWS_SECRET_ACCESS_KEY" not in task_env
    assert task_env["AWS_ENDPOINT_URL"] == url
    assert task_env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")

    assert (
        out["task"]["TaskARN"]
        == out["task"]["Containers"][0]["Labels"]["com.amazonaws.ecs.task-arn"]
    )
    assert out["task"]["Cluster"].endswith(f":cluster/{env.cluster}")
    assert out["task"]["Family"] == "probe" and out["task"]["Revision"] == "1"
    assert out["task"]["LaunchType"] == "FARGATE" and out["task"]["Limits"]["Memory"] == 512
    assert out["task"]["Containers"][0]["Name"] == "app"
    assert out["container"]["Name"] == "app"
    assert out["container"]["Networks"][0]["IPv4Addresses"][0].startswith("127.1.")
    task_id = out["task"]["TaskARN"].rsplit("/", 1)[-1]
    assert out["container"]["LogOptions"]["awslogs-stream"] == f"probe/app/{task_id}"
    assert "ServiceName" not in out["task"], "a standalone task belongs to no service"
    assert task_env["HOSTNAME"] == out["container"]["Networks"][0]["PrivateDNSName"] != ""
    assert task_env["TMPDIR"] == str(Path(tempfile.gettempdir()) / f"ecs-task-{task_id}")
    assert not Path(task_env["TMPDIR"]).exists(), "a stopped task's ephemeral storage is gone"

    assert ":assumed-role/repo-a/" in out["identity"]
    assert out["s3"]["repos/a/x"] == "ok"
    assert "AccessDenied" in out["s3"]["repos/b/x"]
    # A default client: DiscoverInstances' ``data-`` host prefix is not injected before the
    # emulator's address (AWS_DISABLE_HOST_PREFIX_INJECTION), so the call reaches it.
    assert out["discovered"] == ["10.0.0.9"]


METADATA_PROBE = (
    "import json, os, urllib.request, time; "
    "url = os.environ['ECS_CONTAINER_METADATA_URI_V4'] + '/task'; "
    "m = json.loads(urllib.request.urlopen(url).read()); "
    "open('meta.json', 'w').write(json.dumps(m)); time.sleep(600)"
)


def written_metadata(ecs_env: EcsEnv, task: dict[str, Any]) -> dict[str, Any]:
    """The task metadata METADATA_PROBE wrote into the task's folder."""
    path = ecs_env.runtime.state_dir / "tasks" / task["taskArn"].rsplit("/", 1)[-1] / "meta.json"
    found: dict[str, Any] = wait_for(
        lambda: path.exists() and json.loads(path.read_text()), 10, "metadata"
    )
    return found


def test_metadata_matches_describe_tasks(ecs_env: EcsEnv) -> None:
    """dagster-aws's EcsRunLauncher reads TaskARN/Cluster from metadata, then describe_tasks."""
    td = ecs_env.register(
        "meta", [{"name": "app", "image": PY, "command": ["python", "-c", METADATA_PROBE]}]
    )
    task = ecs_env.run_task(td)
    ecs_env.wait_status(task["taskArn"], "RUNNING")
    meta = written_metadata(ecs_env, task)
    (described,) = ecs_env.ecs.describe_tasks(cluster=meta["Cluster"], tasks=[meta["TaskARN"]])[
        "tasks"
    ]
    details = {d["name"]: d["value"] for d in described["attachments"][0]["details"]}
    assert details["privateIPv4Address"] == meta["Containers"][0]["Networks"][0]["IPv4Addresses"][0]
    ec2 = boto3.resource("ec2", endpoint_url=ecs_env.endpoint, region_name="ap-southeast-2")
    eni = ec2.NetworkInterface(details["networkInterfaceId"])
    assert eni.groups[0]["GroupId"] in ecs_env.network["awsvpcConfiguration"]["securityGroups"]
    definition = ecs_env.ecs.describe_task_definition(taskDefinition=described["taskDefinitionArn"])
    assert definition["taskDefinition"]["family"] == meta["Family"]


def test_a_service_task_s_metadata_names_its_service(ecs_env: EcsEnv) -> None:
    td = ecs_env.register(
        "svcmeta", [{"name": "app", "image": PY, "command": ["python", "-c", METADATA_PROBE]}]
    )
    ecs_env.create_service("metadata-probe", td, 1)
    try:
        (task,) = wait_for(lambda: ecs_env.running("metadata-probe", 1), 30, "the service task")
        meta = written_metadata(ecs_env, task)
        assert meta["ServiceName"] == "metadata-probe"
        assert meta["TaskARN"] == task["taskArn"]
    finally:
        ecs_env.drain()


STATS_PROBE = (
    "import json, os, urllib.request, time; "
    "ballast = bytearray(64 * 1024 * 1024); "
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\n"
    "base = os.environ['ECS_CONTAINER_METADATA_URI_V4']; "
    "get = lambda path: json.loads(urllib.request.urlopen(base + path).read()); "
    "first = get('/stats'); second = get('/stats'); "
    "out = {'first': first, 'second': second, 'task': get('/task/stats')}; "
    "open('stats.json', 'w').write(json.dumps(out)); time.sleep(600)"
)


def test_stats_are_the_container_s_own_process_figures(ecs_env: EcsEnv) -> None:
    td = ecs_env.register(
        "stats",
        [{"name": "app", "image": PY, "memory": 256, "command": ["python", "-c", STATS_PROBE]}],
    )
    task = ecs_env.run_task(td)
    running = ecs_env.wait_status(task["taskArn"], "RUNNING")
    path = ecs_env.runtime.state_dir / "tasks" / task["taskArn"].rsplit("/", 1)[-1] / "stats.json"
    out = wait_for(lambda: path.exists() and json.loads(path.read_text()), 20, "the stats")
    first, second = out["first"], out["second"]
    assert second["memory_stats"]["usage"] >= 64 * 1024 * 1024  # its ballast, in its RSS
    assert second["memory_stats"]["limit"] == 256 * 1024 * 1024
    assert second["cpu_stats"]["cpu_usage"]["total_usage"] >= 0.3e9  # the CPU it burnt
    assert second["precpu_stats"] == first["cpu_stats"]  # Docker's previous reading
    assert second["pids_stats"]["current"] >= 1
    runtime_id = running["containers"][0]["runtimeId"]
    assert second["id"] == runtime_id
    assert set(out["task"]) == {runtime_id}
    assert out["task"][runtime_id]["memory_stats"]["usage"] >= 64 * 1024 * 1024
    ecs_env.ecs.stop_task(cluster=ecs_env.cluster, task=task["taskArn"], reason="done")
    ecs_env.wait_status(task["taskArn"], "STOPPED")


def test_an_environment_file_the_execution_role_may_not_read_fails_the_task(
    iam_emulator: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, admin = iam_emulator
    session = _admin_session(admin)
    s3 = session.client("s3", endpoint_url=url)
    s3.create_bucket(
        Bucket="denied-env", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"}
    )
    s3.put_object(Bucket="denied-env", Key="app.env", Body=b"A=1\n")
    no_s3 = _role(
        session.client("iam", endpoint_url=url),
        "exec-no-s3",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
        },
    )
    gen = ecs_environment(url, tmp_path, admin)
    env = next(gen)
    try:
        files = [{"type": "s3", "value": "arn:aws:s3:::denied-env/app.env"}]
        td = env.register(
            "denied",
            [{"name": "app", "image": PY, "command": ["true"], "environmentFiles": files}],
            executionRoleArn=no_s3,
        )
        stopped = env.wait_status(env.run_task(td)["taskArn"], "STOPPED", timeout=30)
        wrong = env.register(
            "wrong-ext",
            [
                {
                    "name": "app",
                    "image": PY,
                    "command": ["true"],
                    "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::denied-env/app"}],
                }
            ],
            executionRoleArn=no_s3,
        )
        misnamed = env.wait_status(env.run_task(wrong)["taskArn"], "STOPPED", timeout=30)
    finally:
        gen.close()
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith(
        "ResourceInitializationError: failed to download env files: arn:aws:s3:::denied-env/app.env"
    )
    assert "AccessDenied" in stopped["stoppedReason"]
    assert misnamed["stopCode"] == "TaskFailedToStart"
    assert "must have the .env extension" in misnamed["stoppedReason"]
