"""Runs the real ``dagster-ecs dev`` CLI against a private state dir and free ports."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from repository_manager.settings import STACK_TAG
from tests.integration.conftest import REPO_ROOT, free_port

CLI = str(Path(sys.executable).parent / "dagster-ecs")


@dataclass
class LocalStack:
    state_dir: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, "dev", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def port(self, name: str) -> int:
        return int(self.env[f"DAGSTER_ECS_{name.upper()}_PORT"])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

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
