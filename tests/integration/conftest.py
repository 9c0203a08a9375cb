"""Fixtures that start real processes. Every process started here is stopped at teardown."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
ECS_TASKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
"""The trust policy of a role that ECS tasks (their task or execution role) assume."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Polls ``condition`` until it returns a truthy value; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


@contextlib.contextmanager
def running_emulator(
    *args: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[str]:
    """A real emulator process (the project's bootstrap) on a free port; yields its URL. Its
    output goes to ``log`` when given."""
    port = free_port()
    with open(log or os.devnull, "wb") as output:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_ecs_emulator.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/moto-api/", timeout=1).ok, 30, "emulator")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    with running_emulator() as url:
        yield url


@pytest.fixture
def aws_env(emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points every boto3 client of the test process at the emulator."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    os.environ.pop("AWS_PROFILE", None)
    return emulator


def enforcing_emulator(*args: str) -> contextlib.AbstractContextManager[str]:
    """An emulator enforcing IAM from its fourth call on (three make the administrator)."""
    return running_emulator(*args, env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})


def iam_user(
    url: str,
    admin: boto3.session.Session | None,
    name: str,
    actions: list[str] | None = None,
    policy: dict[str, Any] | None = None,
) -> boto3.session.Session:
    """A session of a new user allowed ``actions`` (or holding ``policy``); with ``admin`` None
    the user *is* the administrator (the emulator's free calls make it)."""
    iam = (admin or boto3.session.Session("test", "test")).client(
        "iam", endpoint_url=url, region_name="ap-southeast-2"
    )
    iam.create_user(UserName=name)
    policy = policy or {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions or [], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.session.Session(
        key["AccessKeyId"], key["SecretAccessKey"], region_name="ap-southeast-2"
    )
