"""Runs the real ``dagster-ecs dev`` CLI against a private state dir and free ports."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil

from repository_manager.dagster_api import DagsterApi
from repository_manager.settings import STACK_TAG
from tests.integration.conftest import REPO_ROOT, free_port, wait_for

CLI = str(Path(sys.executable).parent / "dagster-ecs")


@dataclass
class LocalStack:
    state_dir: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``dagster-ecs dev ARGS`` against this stack."""
        return self.dagster_ecs("dev", *args, timeout=timeout)

    def dagster_ecs(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``dagster-ecs ARGS`` against this stack."""
        return subprocess.run(
            [CLI, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_tasks(self, run_id: str, status: str = "STOPPED") -> list[dict[str, Any]]:
        """The ECS tasks (with ``status``) that EcsRunLauncher started for the run."""
        ecs = self.client("ecs")
        arns = ecs.list_tasks(cluster="dagster-ecs", desiredStatus=status)["taskArns"]
        if not arns:
            return []
        tasks = ecs.describe_tasks(cluster="dagster-ecs", tasks=arns, include=["TAGS"])["tasks"]
        tag = {"key": "dagster/run_id", "value": run_id}
        return [task for task in tasks if tag in task.get("tags", [])]

    def port(self, name: str) -> int:
        return int(self.env[f"DAGSTER_ECS_{name.upper()}_PORT"])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def credentials(self) -> dict[str, str]:
        """The stack's administrator keys (IAM is enforced in every stack)."""
        keys = json.loads((self.state_dir / "credentials.json").read_text())
        return {str(k): str(v) for k, v in keys.items()}

    def client(self, service: str) -> Any:
        """A boto3 client of the stack's emulator, signed as its administrator."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url("emulator"),
            region_name="ap-southeast-2",
            **self.credentials(),
        )

    def aws_env(self) -> dict[str, str]:
        """The shell variables `dagster-ecs dev env` prints."""
        keys = self.credentials()
        return {
            "AWS_ENDPOINT_URL": self.url("emulator"),
            "AWS_DEFAULT_REGION": "ap-southeast-2",
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        }

    def listeners(self) -> list[tuple[str, int, int]]:
        """(address, port, pid) of every listening socket of the stack's processes."""
        pids = {proc.pid for proc in self.processes()}
        found = []
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
                address = ipaddress.ip_address(conn.laddr.ip)
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped
                found.append((str(address), int(conn.laddr.port), int(conn.pid)))
        return found

    def processes(self) -> list[psutil.Process]:
        """Every live process tagged with this stack's state dir (components and their children)."""
        found = []
        marker = str(self.state_dir)
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(STACK_TAG) == marker:
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found


def distinct_free_ports(count: int) -> list[int]:
    """Free ports, all different (the kernel may hand the same free port to two binds in a row)."""
    ports: list[int] = []
    while len(ports) < count:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


def make_stack(state_dir: Path, **overrides: str) -> LocalStack:
    names = ("EMULATOR", "POSTGRES", "CODE_SERVER", "WEBSERVER")
    ports = distinct_free_ports(len(names))
    env = {
        **os.environ,
        "DAGSTER_ECS_STATE_DIR": str(state_dir),
        **{f"DAGSTER_ECS_{name}_PORT": str(port) for name, port in zip(names, ports, strict=True)},
        **overrides,
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_HOME"):
        env.pop(key, None)
    return LocalStack(state_dir=state_dir, env=env)


@contextlib.contextmanager
def started_stack(state_dir: Path, **overrides: str) -> Iterator[LocalStack]:
    """A started stack, stopped afterwards with proof that none of its processes is left."""
    running = make_stack(state_dir, **overrides)
    started = running.cli("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield running
    finally:
        running.cli("stop")
    assert running.processes() == [], "processes left behind after `dev stop`"


def finished_run(api: DagsterApi, run_id: str, timeout: float = 180) -> str:
    """The run's final status (SUCCESS, FAILURE or CANCELED), waited for."""
    final: str = wait_for(
        lambda: (s := api.run_status(run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
        timeout=timeout,
        what=f"run {run_id} to finish",
        interval=0.5,
    )
    return final
