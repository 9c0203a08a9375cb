"""The code location's container health check: the code server's port and the sync agent's
status file, as the agent writes them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dagster_code.dags_sync.__main__ import main
from dagster_code.dags_sync.manifest import SyncStatus


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAG_SYNC_ROOT", str(tmp_path))
    monkeypatch.setenv("DAGSTER_REPO_NAME", "main")
    monkeypatch.setenv("DAG_SYNC_INTERVAL", "2")
    monkeypatch.delenv("DAG_SYNC_UNHEALTHY_AFTER", raising=False)
    return tmp_path


def _write(root: Path, *, failures: int = 0, silent_for: float = 0) -> None:
    checked = datetime.now(UTC) - timedelta(seconds=silent_for)
    status = SyncStatus(
        location="main",
        task_id="t",
        deployment="7",
        synced_at=checked,
        checked_at=checked,
        consecutive_failures=failures,
        last_error="S3: connection refused" if failures else None,
    )
    (root / "dagster-dags" / "main").mkdir(parents=True, exist_ok=True)
    (root / "dagster-dags" / "main" / "status.json").write_text(status.model_dump_json())


def _health(port: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["health", "--port", str(port)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_healthy_while_serving_and_syncing(
    root: Path, listening: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(root, failures=2)
    assert _health(listening, capsys) == (0, "serving deployment 7\n")


def test_unhealthy_after_three_failed_intervals(
    root: Path, listening: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(root, failures=3)
    code, said = _health(listening, capsys)
    assert code == 1 and "failed 3 intervals in a row: S3: connection refused" in said


def test_unhealthy_when_the_agent_stops_reporting(
    root: Path, listening: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(root, silent_for=3 * 4 * 2 + 31)
    code, said = _health(listening, capsys)
    assert code == 1 and "has not reported for" in said
    _write(root, silent_for=3 * 4 * 2 + 25)
    assert _health(listening, capsys)[0] == 0


def test_unhealthy_when_the_code_server_does_not_listen(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(root)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, said = _health(port, capsys)
    assert code == 1 and f"not accepting connections on port {port}" in said


def test_unhealthy_before_the_first_sync_unless_sync_is_off(
    root: Path, listening: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said = _health(listening, capsys)
    assert code == 1 and "has not started" in said
    monkeypatch.setenv("DAG_SYNC_INTERVAL", "0")
    assert _health(listening, capsys)[0] == 0
