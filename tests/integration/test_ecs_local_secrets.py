"""Secret values stay in memory: the runtime's state dir never holds them, and a restarted
runtime recovers them from the running container to run its health check."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import boto3

from tests.integration.conftest import wait_for
from tests.integration.ecs_fixtures import PY, EcsEnv, ecs_env

__all__ = ["ecs_env"]


def _files_holding(root: Path, value: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and value in path.read_bytes()]


def _checked_by(task_dir: Path, runtime_pid: int) -> bool:
    checks = task_dir / "checks"
    return checks.exists() and str(runtime_pid) in checks.read_text().split()


def test_secret_values_never_reach_disk_and_adoption_recovers_them(ecs_env: EcsEnv) -> None:
    value = f"pw-{uuid.uuid4().hex}"
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name=f"db-{uuid.uuid4().hex[:8]}", SecretString=value
    )["ARN"]
    digest = hashlib.sha256(value.encode()).hexdigest()
    # Passes only with the exact secret in its environment; $PPID is the runtime that ran it.
    check = (
        f'h=$(printf %s "$DB_PASSWORD" | sha256sum) && test "${{h%% *}}" = {digest}'
        " && echo $PPID >> checks"
    )
    td = ecs_env.register(
        "secretive",
        [
            {
                "name": "app",
                "image": PY,
                "command": ["python", "-c", "import time; time.sleep(600)"],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": secret_arn}],
                "healthCheck": {
                    "command": ["CMD-SHELL", check],
                    "interval": 5,
                    "timeout": 2,
                    "retries": 2,
                },
            }
        ],
    )
    arn = ecs_env.run_task(td)["taskArn"]
    runtime = ecs_env.runtime
    task_dir = runtime.state_dir / "tasks" / arn.rsplit("/", 1)[-1]
    assert runtime.proc is not None
    first_pid = runtime.proc.pid
    wait_for(
        lambda: (
            _checked_by(task_dir, first_pid)
            and ecs_env.describe([arn])[0]["healthStatus"] == "HEALTHY"
        ),
        20,
        "a passing health check",
    )
    assert (task_dir / "task.json").exists()
    assert _files_holding(runtime.state_dir, value.encode()) == []

    runtime.stop()
    runtime.start()
    assert "adopted=1" in runtime.log_path.read_text()
    assert runtime.proc is not None
    second_pid = runtime.proc.pid
    wait_for(lambda: _checked_by(task_dir, second_pid), 20, "a passing check after adoption")
    (task,) = ecs_env.describe([arn])
    assert (task["lastStatus"], task["healthStatus"]) == ("RUNNING", "HEALTHY")
    assert _files_holding(runtime.state_dir, value.encode()) == []
    assert value not in runtime.log_path.read_text()
