"""The local stack end to end: ``dagster-ecs dev up`` → a run through GraphQL → S3 and Postgres."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg2
import pytest

from repository_manager.credentials import ADMIN_USER
from repository_manager.dagster_api import DagsterApi
from repository_manager.settings import STACK_TAG
from tests.integration.conftest import wait_for
from tests.integration.stack_fixtures import (
    CLI,
    LocalStack,
    finished_run,
    make_stack,
    started_stack,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with started_stack(tmp_path_factory.mktemp("stack") / "state") as running:
        yield running


def _s3(stack: LocalStack) -> Any:
    return _client(stack, "s3")


def _client(stack: LocalStack, service: str) -> Any:
    """A boto3 client of the stack's emulator, as its administrator."""
    return stack.client(service)


def test_status_shows_processes_and_ecs_services_healthy(stack: LocalStack) -> None:
    status = stack.cli("status")
    assert status.returncode == 0
    rows = status.stdout.splitlines()
    for component in (
        "emulator",
        "postgres",
        "ecs-runtime",
        "service cl-main",
        "service webserver",
        "service daemon",
    ):
        line = next(row for row in rows if f" {component} " in row)
        assert " healthy " in line, status.stdout


def test_dagster_services_run_as_ecs_tasks(stack: LocalStack) -> None:
    session = boto3.session.Session(region_name="ap-southeast-2", **stack.credentials())
    endpoint = stack.url("emulator")
    ecs = session.client("ecs", endpoint_url=endpoint)
    services = ecs.describe_services(
        cluster="dagster-ecs", services=["cl-main", "webserver", "daemon"]
    )["services"]
    assert {s["serviceName"]: (s["runningCount"], s["desiredCount"]) for s in services} == {
        "cl-main": (1, 1),
        "webserver": (1, 1),
        "daemon": (1, 1),
    }
    tasks = ecs.describe_tasks(
        cluster="dagster-ecs", tasks=ecs.list_tasks(cluster="dagster-ecs")["taskArns"]
    )["tasks"]
    assert sorted(t["group"] for t in tasks) == [
        "service:cl-main",
        "service:daemon",
        "service:webserver",
    ]
    assert all(t["lastStatus"] == "RUNNING" for t in tasks)
    discovery = session.client("servicediscovery", endpoint_url=endpoint)
    namespace = discovery.list_namespaces()["Namespaces"][0]
    service = discovery.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace["Id"]], "Condition": "EQ"}]
    )["Services"][0]
    instances = discovery.list_instances(ServiceId=service["Id"])["Instances"]
    assert service["Name"] == "main"
    assert [i["Attributes"]["AWS_INSTANCE_PORT"] for i in instances] == [
        str(stack.port("code_server"))
    ]
    workspace = (stack.state_dir / "dagster_home" / "workspace.yaml").read_text()
    assert instances[0]["Attributes"]["AWS_INSTANCE_IPV4"] in workspace


def test_emulator_is_seeded(stack: LocalStack) -> None:
    session = boto3.session.Session(region_name="ap-southeast-2", **stack.credentials())
    endpoint = stack.url("emulator")
    s3 = session.client("s3", endpoint_url=endpoint)
    assert s3.get_bucket_versioning(Bucket="dagster-ecs-local")["Status"] == "Enabled"
    secret = session.client("secretsmanager", endpoint_url=endpoint).get_secret_value(
        SecretId="dagster-ecs/postgres"
    )
    credentials = json.loads(secret["SecretString"])
    assert credentials["port"] == stack.port("postgres")
    clusters = session.client("ecs", endpoint_url=endpoint).list_clusters()["clusterArns"]
    assert any(arn.endswith("/dagster-ecs") for arn in clusters)
    namespaces = session.client("servicediscovery", endpoint_url=endpoint).list_namespaces()
    assert [ns["Name"] for ns in namespaces["Namespaces"]] == ["dagster-ecs.internal"]
    groups = session.client("logs", endpoint_url=endpoint).describe_log_groups()["logGroups"]
    assert {"/dagster-ecs/webserver", "/dagster-ecs/code-locations/main"} <= {
        g["logGroupName"] for g in groups
    }


DEFAULT_CLIENTS = """
import json, boto3
sd = boto3.client("servicediscovery")
found = sd.discover_instances(NamespaceName="dagster-ecs.internal", ServiceName="main")
print(json.dumps({
    "identity": boto3.client("sts").get_caller_identity()["Arn"],
    "main": [i["Attributes"]["AWS_INSTANCE_PORT"] for i in found["Instances"]],
}))
"""


def test_dev_env_lets_a_default_client_use_the_stack(stack: LocalStack) -> None:
    """What `eval "$(dagster-ecs dev env)"` gives a script: boto3 clients built with no
    arguments reach the stack as its administrator, DiscoverInstances (whose ``data-`` host
    prefix would be put before the emulator's address) included."""
    exports = stack.cli("env")
    assert exports.returncode == 0, exports.stderr
    clean = {k: v for k, v in stack.env.items() if not k.startswith("AWS_")}
    script = f"{exports.stdout}\nexec {sys.executable} -c '{DEFAULT_CLIENTS}'"
    out = subprocess.run(
        ["bash", "-c", script], env=clean, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["identity"].endswith(f":user/{ADMIN_USER}"), found
    assert found["main"] == [str(stack.port("code_server"))]


def test_run_materializes_into_the_repos_prefix_and_is_recorded_in_postgres(
    stack: LocalStack,
) -> None:
    api = DagsterApi(stack.url("webserver"))
    run_id = api.launch_run("main", "main_assets_job")
    assert finished_run(api, run_id) == "SUCCESS"

    keys = [
        obj["Key"] for obj in _s3(stack).list_objects_v2(Bucket="dagster-ecs-local")["Contents"]
    ]
    assets = [key for key in keys if key.startswith("repos/main/assets/")]
    assert len(assets) >= 3, keys
    assert all(key.startswith("repos/main/") for key in keys), keys
    assert any(key.startswith("repos/main/logs/") and run_id in key for key in keys), keys

    run_tasks = wait_for(lambda: stack.run_tasks(run_id), 60, "the run's ECS task to stop")
    assert len(run_tasks) == 1, run_tasks
    assert run_tasks[0]["containers"][0]["exitCode"] == 0
    assert run_tasks[0]["taskDefinitionArn"].split("/")[-1].startswith("run_main_")

    secret = (stack.state_dir / "postgres" / "password").read_text().strip()
    with (
        psycopg2.connect(
            host="127.0.0.1",
            port=stack.port("postgres"),
            user="dagster",
            password=secret,
            dbname="dagster",
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone() == ("SUCCESS",)


def test_secrets_stay_private(stack: LocalStack) -> None:
    password_file = stack.state_dir / "postgres" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    for log in (stack.state_dir / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace"), f"password leaked into {log}"
    # The emulator's seed spec carried the password to it and is gone once read.
    for record in (stack.state_dir / "run").iterdir():
        assert password not in record.read_text(errors="replace"), f"password left in {record}"


def test_up_again_is_a_no_op_while_healthy(stack: LocalStack) -> None:
    def component_pids() -> dict[str, int]:
        records = (stack.state_dir / "run").glob("*.json")
        return {path.stem: json.loads(path.read_text())["pid"] for path in records}

    before = component_pids()
    again = stack.cli("up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert component_pids() == before
    assert all(psutil.pid_exists(pid) for pid in before.values())


def test_dev_logs_shows_processes_and_services(stack: LocalStack) -> None:
    runtime = stack.cli("logs", "ecs-runtime", "--no-follow", "-n", "50")
    assert runtime.returncode == 0
    assert "ecs_local ready" in runtime.stdout
    assert all(line.startswith("ecs-runtime") for line in runtime.stdout.splitlines() if line)

    webserver = stack.cli("logs", "webserver", "--no-follow", "-n", "200")
    assert webserver.returncode == 0, webserver.stderr
    assert "Serving dagster-webserver" in webserver.stdout

    everything = stack.cli("logs", "--no-follow", "-n", "5")
    prefixes = {line.split(" | ")[0].strip() for line in everything.stdout.splitlines()}
    assert {"emulator", "ecs-runtime", "cl-main", "webserver", "daemon"} <= prefixes

    unknown = stack.cli("logs", "nope", "--no-follow")
    assert unknown.returncode == 2
    assert "unknown component 'nope'" in unknown.stderr


def test_service_logs_come_from_cloudwatch(stack: LocalStack) -> None:
    env = {**stack.env, **stack.aws_env()}
    shown = subprocess.run(
        [CLI, "logs", "webserver"], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "Serving dagster-webserver" in shown.stdout


def test_deploy_is_idempotent_and_rolls_a_new_image(stack: LocalStack) -> None:
    unchanged = subprocess.run(
        [CLI, "deploy"], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert unchanged.returncode == 0, unchanged.stderr
    for service in ("cl-main", "webserver", "daemon"):
        assert f"{service}: unchanged" in unchanged.stdout

    rolled = subprocess.run(
        [CLI, "deploy", "--image", "dagster-ecs:v2"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "cl-main: updated (task definition dagster-ecs-cl-main:2, new revision)" in (
        rolled.stdout
    )
    ecs = _client(stack, "ecs")
    services = ecs.describe_services(
        cluster="dagster-ecs", services=["cl-main", "webserver", "daemon"]
    )["services"]
    for service in services:
        assert service["taskDefinition"].endswith(":2"), service["taskDefinition"]
        assert service["runningCount"] == 1
        image = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
            "taskDefinition"
        ]["containerDefinitions"][0]["image"]
        assert image == "dagster-ecs:v2"
    kept = subprocess.run(  # without --image the services keep the image they run
        [CLI, "deploy"], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert kept.returncode == 0, kept.stderr
    assert "webserver: unchanged (task definition dagster-ecs-webserver:2)" in kept.stdout

    api = DagsterApi(stack.url("webserver"))
    # The new code server may register in Cloud Map before it serves: Dagster retries it.
    wait_for(lambda: api.location_statuses() == {"main": "LOADED"}, 40, "the location loaded")
    run_id = api.launch_run("main", "main_assets_job")
    final = wait_for(
        lambda: (s := api.run_status(run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
        timeout=120,
        what="a run after the rollout",
        interval=0.5,
    )
    assert final == "SUCCESS"


def _task_address(task: dict[str, Any]) -> str:
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    return str(details["privateIPv4Address"])


def test_workspace_follows_a_replaced_code_location_task(stack: LocalStack) -> None:
    ecs = _client(stack, "ecs")
    (old_arn,) = ecs.list_tasks(cluster="dagster-ecs", serviceName="cl-main")["taskArns"]
    (old,) = ecs.describe_tasks(cluster="dagster-ecs", tasks=[old_arn])["tasks"]
    ecs.stop_task(cluster="dagster-ecs", task=old_arn, reason="test: replace the code location")

    def replacement() -> dict[str, Any] | None:
        arns = ecs.list_tasks(cluster="dagster-ecs", serviceName="cl-main")["taskArns"]
        tasks = ecs.describe_tasks(cluster="dagster-ecs", tasks=arns)["tasks"] if arns else []
        running = [t for t in tasks if t["taskArn"] != old_arn and t["lastStatus"] == "RUNNING"]
        return running[0] if running else None

    new = wait_for(replacement, 60, "a replacement cl-main task", interval=0.3)
    assert _task_address(new) != _task_address(old)
    workspace = stack.state_dir / "dagster_home" / "workspace.yaml"
    wait_for(lambda: _task_address(new) in workspace.read_text(), 40, "the workspace re-rendered")

    api = DagsterApi(stack.url("webserver"))
    wait_for(
        lambda: api.location_hosts() == {"main": _task_address(new)}, 40, "the webserver reloaded"
    )
    # The new code server may register in Cloud Map before it serves: Dagster retries it.
    wait_for(lambda: api.location_statuses() == {"main": "LOADED"}, 40, "the location loaded")
    run_id = api.launch_run("main", "main_assets_job")
    final = wait_for(
        lambda: (s := api.run_status(run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
        timeout=120,
        what="a run on the replaced code location",
        interval=0.5,
    )
    assert final == "SUCCESS"


def test_a_broken_image_fails_the_deploy_and_ecs_rolls_back(stack: LocalStack) -> None:
    ecs = _client(stack, "ecs")
    before = {
        s["serviceName"]: s["taskDefinition"]
        for s in ecs.describe_services(cluster="dagster-ecs", services=["cl-main"])["services"]
    }
    broken = subprocess.run(
        [CLI, "deploy", "--image", "nowhere/broken:1"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert broken.returncode == 1
    assert len(broken.stderr.strip().splitlines()) == 1, broken.stderr
    assert "CannotPullContainerError" in broken.stderr or "deployment failed" in broken.stderr

    def rolled_back() -> dict[str, Any] | None:
        (service,) = ecs.describe_services(cluster="dagster-ecs", services=["cl-main"])["services"]
        done = service["runningCount"] == 1 and len(service["deployments"]) == 1
        done = done and service["deployments"][0]["rolloutState"] == "COMPLETED"
        return service if done else None

    service = wait_for(rolled_back, 90, "the circuit breaker's rollback", interval=0.5)
    assert service["taskDefinition"] == before["cl-main"]
    assert any("deployment failed" in e["message"] for e in service["events"])
    (arn,) = ecs.list_tasks(cluster="dagster-ecs", serviceName="cl-main")["taskArns"]
    (task,) = ecs.describe_tasks(cluster="dagster-ecs", tasks=[arn])["tasks"]
    api = DagsterApi(stack.url("webserver"))
    wait_for(lambda: api.location_hosts() == {"main": _task_address(task)}, 40, "reloaded")
    # The new code server may register in Cloud Map before it serves: Dagster retries it.
    wait_for(lambda: api.location_statuses() == {"main": "LOADED"}, 40, "the location loaded")


def test_deploy_without_a_stack_is_a_clear_error(tmp_path: Path) -> None:
    idle = make_stack(tmp_path / "state")
    result = subprocess.run(
        [CLI, "deploy"], env=idle.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: the local stack of {tmp_path / 'state'} is not running; start it with `make dev`"
    )


def test_port_in_use_fails_fast_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        blocked = make_stack(tmp_path / "state", DAGSTER_ECS_WEBSERVER_PORT=str(port))
        result = blocked.cli("up", timeout=60)
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert f"port {port} for the webserver is already in use" in message
    assert "DAGSTER_ECS_WEBSERVER_PORT" in message
    assert blocked.processes() == []
    assert not (tmp_path / "state" / "run").exists() or not any(
        (tmp_path / "state" / "run").iterdir()
    )


def test_crashing_component_is_reported_and_rolled_back(tmp_path: Path) -> None:
    """A PostgreSQL that dies at start: one line naming it and its log, nothing left running."""
    from dagster_ecs_emulator.postgres import find_binaries

    real = find_binaries()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "initdb").symlink_to(real.initdb)
    broken = bindir / "postgres"
    broken.write_text("#!/bin/sh\necho 'FATAL:  simulated start-up failure'\nexit 3\n")
    broken.chmod(0o755)
    tmp_path.chmod(0o755)
    crashing = make_stack(tmp_path / "state", DAGSTER_ECS_PG_BINDIR=str(bindir))
    result = crashing.cli("up", timeout=120)
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "postgres exited with code 3 during start-up" in message
    assert "simulated start-up failure" in message
    assert str(tmp_path / "state" / "logs" / "postgres.log") in message
    assert crashing.processes() == []
    assert "nothing was running" in crashing.cli("stop").stdout


def test_stack_runs_on_the_pgserver_wheel_alone(tmp_path: Path) -> None:
    """Where the machine has no PostgreSQL, the `pgserver` wheel's binaries serve instead."""
    from dagster_ecs_emulator.postgres import pgserver_bindir

    wheel = pgserver_bindir()
    assert wheel is not None, "the pgserver wheel is a dependency of the project"
    wheel_only = make_stack(tmp_path / "state", DAGSTER_ECS_PG_BINDIR=str(wheel))
    try:
        started = wheel_only.cli("up")
        assert started.returncode == 0, started.stdout + started.stderr
        log = (tmp_path / "state" / "logs" / "postgres.log").read_text()
        assert str(wheel) in " ".join(
            json.loads((tmp_path / "state" / "run" / "postgres.json").read_text())["argv"]
        )
        assert "starting PostgreSQL 16" in log
    finally:
        wheel_only.cli("stop")
    assert wheel_only.processes() == []


def test_deploy_to_an_environment_never_applied_is_a_clear_error(tmp_path: Path) -> None:
    idle = make_stack(tmp_path / "state")
    for env, expected in (
        ("local", "error: the local tofu environment has no state; create it with `make "),
        ("aws", "error: environment aws is not initialised; run `make infra-init ENV=aws`"),
        ("nope", "error: unknown environment 'nope': use one of dev, local, aws"),
    ):
        result = subprocess.run(
            [CLI, "deploy", "--env", env], env=idle.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1
        assert result.stderr.startswith(expected), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state" / "infra").exists()


def test_stop_kills_only_the_stack_s_strays_not_the_user_s_shell(tmp_path: Path) -> None:
    """Users export DAGSTER_ECS_STATE_DIR to pick a state dir; only the stack's tag marks a
    process of the stack."""
    idle = make_stack(tmp_path / "state")
    state = str(tmp_path / "state")
    users = subprocess.Popen(["sleep", "60"], env={**idle.env, "DAGSTER_ECS_STATE_DIR": state})
    stray = subprocess.Popen(["sleep", "60"], env={**idle.env, STACK_TAG: state})
    try:
        stopped = subprocess.run(
            [CLI, "dev", "stop"], env=idle.env, capture_output=True, text=True, timeout=60
        )
        assert stopped.returncode == 0, stopped.stderr
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert users.poll() is None
    finally:
        for proc in (users, stray):
            proc.kill()
            proc.wait()
