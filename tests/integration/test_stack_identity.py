"""Two stacks side by side: each command acts on its own stack only, whatever ports the shell
exports, and nothing of either listens beyond loopback."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.stack_fixtures import CLI, LocalStack, make_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, LocalStack]]:
    first = make_stack(tmp_path_factory.mktemp("a") / "state")
    second = make_stack(tmp_path_factory.mktemp("b") / "state")
    try:
        for stack in (first, second):
            started = stack.cli("up")
            assert started.returncode == 0, started.stdout + started.stderr
        yield first, second
    finally:
        for stack in (first, second):
            stack.cli("stop")
    assert first.processes() == [] and second.processes() == []


def _services(stack: LocalStack) -> dict[str, int]:
    ecs: Any = stack.client("ecs")
    arns = ecs.list_services(cluster="dagster-ecs")["serviceArns"]
    described = ecs.describe_services(cluster="dagster-ecs", services=arns)["services"]
    return {s["serviceName"]: s["runningCount"] for s in described}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def _with_ports_of(stack: LocalStack, other: LocalStack) -> dict[str, str]:
    """``stack``'s state folder in a shell that exports ``other``'s ports."""
    ports = {k: v for k, v in other.env.items() if k.endswith("_PORT")}
    return {**stack.env, **ports}


def test_each_stack_records_itself(stacks: tuple[LocalStack, LocalStack]) -> None:
    for stack in stacks:
        record = json.loads((stack.state_dir / "stack.json").read_text())
        assert record["ports"]["emulator"] == stack.port("emulator")
        assert record["webserver_url"] == stack.url("webserver")
    ids = {json.loads((s.state_dir / "stack.json").read_text())["stack_id"] for s in stacks}
    assert len(ids) == 2


def test_commands_use_the_stack_file_not_the_shell_s_ports(
    stacks: tuple[LocalStack, LocalStack],
) -> None:
    first, second = stacks
    env = _with_ports_of(first, second)
    again = _run(env, "dev", "up")
    assert again.returncode == 0, again.stderr
    assert f"already running: Dagster UI at {first.url('webserver')}" in again.stdout
    status = _run(env, "dev", "status")
    assert str(first.port("emulator")) in status.stdout
    assert str(second.port("emulator")) not in status.stdout
    deployed = _run(env, "deploy", "--no-wait")
    assert deployed.returncode == 0, deployed.stderr
    assert _services(second) == {"cl-main": 1, "daemon": 1, "webserver": 1}


def test_a_stack_file_pointing_at_another_stack_is_refused(
    stacks: tuple[LocalStack, LocalStack], tmp_path: Path
) -> None:
    """The emulator says which stack it is: a stack file whose endpoint reaches another stack's
    emulator (copied, edited, or left behind) changes nothing there."""
    first, second = stacks
    forged = tmp_path / "forged"
    forged.mkdir()
    record = json.loads((first.state_dir / "stack.json").read_text())
    record["ports"] = json.loads((second.state_dir / "stack.json").read_text())["ports"]
    record["state_dir"] = str(forged)
    (forged / "stack.json").write_text(json.dumps(record))
    env = {**first.env, "DAGSTER_ECS_STATE_DIR": str(forged)}
    for args in (("deploy", "--no-wait"), ("logs", "webserver")):
        result = _run(env, *args)
        assert result.returncode == 1, (args, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "belongs to another stack" in lines[0] and "refusing to act on it" in lines[0]
    stopped = _run(env, "dev", "stop")
    assert stopped.returncode == 0
    assert "not draining it" in stopped.stdout
    assert _services(second) == {"cl-main": 1, "daemon": 1, "webserver": 1}
    assert _services(first) == {"cl-main": 1, "daemon": 1, "webserver": 1}


def test_logs_of_an_unknown_service_lists_the_services(
    stacks: tuple[LocalStack, LocalStack],
) -> None:
    result = _run(stacks[0].env, "logs", "nope")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no service 'nope' in cluster 'dagster-ecs'; its services: cl-main, daemon, "
        "webserver"
    ]


def test_nothing_listens_beyond_loopback(stacks: tuple[LocalStack, LocalStack]) -> None:
    for stack in stacks:
        pids = {proc.pid for proc in stack.processes()}
        listening = [
            conn
            for conn in psutil.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN and conn.pid in pids
        ]
        ports = {conn.laddr.port for conn in listening}
        assert {stack.port("emulator"), stack.port("webserver"), stack.port("code_server")} <= ports
        for conn in listening:
            address = ipaddress.ip_address(conn.laddr.ip)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            assert address.is_loopback, f"{conn.laddr} of pid {conn.pid} is not loopback"


def test_stop_with_another_stack_s_ports_stops_only_its_own(
    stacks: tuple[LocalStack, LocalStack],
) -> None:
    """Last in this module: it stops the first stack."""
    first, second = stacks
    stopped = _run(_with_ports_of(first, second), "dev", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert first.processes() == []
    assert not (first.state_dir / "stack.json").exists()
    assert _services(second) == {"cl-main": 1, "daemon": 1, "webserver": 1}
    after = _run(_with_ports_of(first, second), "dev", "stop")
    assert f"nothing was running in {first.state_dir}" in after.stdout
    assert _services(second) == {"cl-main": 1, "daemon": 1, "webserver": 1}
