"""Fixtures for the ECS runtime tests: a network + cluster in the emulator and a real
``python -m ecs_local`` process. Teardown drains every service and task through the ECS API
and fails the test if a task process is left over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from tests.integration.conftest import REPO_ROOT, wait_for


def task_pgids(state_dir: Path) -> set[int]:
    """Process groups of the task containers recorded in a runtime state dir that still live."""
    pgids = set()
    for record in state_dir.glob("tasks/*/task.json"):
        for container in json.loads(record.read_text())["containers"].values():
            handle = container.get("handle")
            if handle and psutil.pid_exists(handle["pid"]):
                try:
                    proc = psutil.Process(handle["pid"])
                    same = abs(proc.create_time() - handle["create_time"]) < 0.05
                    if same and proc.status() != psutil.STATUS_ZOMBIE:
                        pgids.add(handle["pid"])
                except psutil.NoSuchProcess:
                    pass
    return pgids


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def container_child(pid: int) -> psutil.Process:
    """The container's own process: the child of the runtime's sh wrapper."""
    return psutil.Process(pid).children()[0]


@dataclass
class Runtime:
    state_dir: Path
    endpoint: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        args = ["--metadata-port", "0"] if not (self.state_dir / "runtime.json").exists() else []
        command = [sys.executable, "-m", "ecs_local", "--endpoint", self.endpoint]
        command += ["--state-dir", str(self.state_dir), *args, *self.extra_args]
        self.proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        marker = self.log_path.read_text().count("ecs_local ready")
        wait_for(
            lambda: (
                self.log_path.read_text().count("ecs_local ready") > marker
                or self.proc.poll() is not None
            ),  # type: ignore[union-attr]
            20,
            "ecs_local ready",
        )
        assert self.proc.poll() is None, self.log_path.read_text()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class EcsEnv:
    ecs: Any
    cluster: str
    network: dict[str, Any]
    runtime: Runtime
    endpoint: str

    def register(self, family: str, containers: list[dict[str, Any]], **kwargs: Any) -> str:
        response = self.ecs.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=containers,
            **kwargs,
        )
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def create_service(self, name: str, task_definition: str, count: int, **kwargs: Any) -> None:
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=count,
            launchType="FARGATE",
            networkConfiguration=self.network,
            **kwargs,
        )

    def run_task(self, task_definition: str, **kwargs: Any) -> dict[str, Any]:
        response = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            networkConfiguration=self.network,
            **kwargs,
        )
        return dict(response["tasks"][0])

    def describe(self, arns: list[str]) -> list[dict[str, Any]]:
        if not arns:
            return []
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"])

    def service_tasks(self, service: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName=service)["taskArns"]
        return self.describe(arns)

    def running(self, service: str, count: int) -> list[dict[str, Any]] | None:
        tasks = [t for t in self.service_tasks(service) if t["lastStatus"] == "RUNNING"]
        return tasks if len(tasks) == count else None

    def wait_status(self, arn: str, status: str, timeout: float = 15) -> dict[str, Any]:
        result: dict[str, Any] = wait_for(
            lambda: next((t for t in self.describe([arn]) if t["lastStatus"] == status), None),
            timeout,
            f"task {arn} {status}",
        )
        return result

    def drain(self) -> None:
        for arn in self.ecs.list_services(cluster=self.cluster)["serviceArns"]:
            self.ecs.delete_service(cluster=self.cluster, service=arn, force=True)
        for arn in self.ecs.list_tasks(cluster=self.cluster)["taskArns"]:
            self.ecs.stop_task(cluster=self.cluster, task=arn, reason="test teardown")


def make_network(ec2: Any) -> dict[str, Any]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"sg-{uuid.uuid4().hex[:8]}", Description="t", VpcId=vpc
    )
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group["GroupId"]]}}


def runtime_env(endpoint: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="ap-southeast-2",
    )
    env.update(extra or {})
    return env


def ecs_environment(
    endpoint: str, tmp_path: Path, credentials: dict[str, str] | None = None
) -> Iterator[EcsEnv]:
    session = boto3.session.Session(
        aws_access_key_id=(credentials or {}).get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=(credentials or {}).get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name="ap-southeast-2",
    )
    ecs = session.client("ecs", endpoint_url=endpoint)
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=cluster)
    network = make_network(session.client("ec2", endpoint_url=endpoint))
    state_dir = tmp_path / "ecs-state"
    runtime = Runtime(
        state_dir, endpoint, runtime_env(endpoint, credentials), tmp_path / "runtime.log"
    )
    runtime.start()
    env = EcsEnv(ecs, cluster, network, runtime, endpoint)
    try:
        yield env
    finally:
        failure = None
        try:
            if runtime.proc is None:
                runtime.start()
            env.drain()
            wait_for(lambda: not task_pgids(state_dir), 40, "all task processes to stop")
            wait_for(
                lambda: all(
                    t["lastStatus"] == "STOPPED"
                    for t in env.describe(
                        ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
                    )
                ),
                10,
                "all tasks STOPPED in the ECS API",
            )
        except AssertionError as error:
            failure = error
        runtime.stop()
        leftovers = task_pgids(state_dir)
        for pgid in leftovers:
            os.killpg(pgid, signal.SIGKILL)
        assert not leftovers, f"task process groups left over: {leftovers}"
        if failure:
            raise failure


Factory = Callable[..., EcsEnv]


@pytest.fixture
def ecs_env(emulator: str, aws_env: str, tmp_path: Path) -> Iterator[EcsEnv]:
    yield from ecs_environment(emulator, tmp_path)


PY = "dagster-ecs:latest"  # the platform image: the project's own virtualenv


# Exits with code 3 on SIGUSR1, so a test can make a task fail with a known exit code.
SERVER = (
    "import signal, sys, time; signal.signal(signal.SIGUSR1, lambda *a: sys.exit(3)); "
    "open('usr1-ready', 'w').close(); print('up', flush=True); time.sleep(600)"
)
# Ignores SIGTERM, then reports healthy: a test stops it only once the handler is in place.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open('ignoring-sigterm', 'w').close(); time.sleep(600)"
)
READY = {"command": ["CMD-SHELL", "test -f ignoring-sigterm"], "interval": 5, "retries": 3}


def app_container(command: str, **extra: object) -> dict[str, object]:
    """A container named ``app`` running ``python -c command`` in the platform image."""
    return {"name": "app", "image": PY, "command": ["python", "-c", command], **extra}
