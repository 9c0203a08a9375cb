"""The health check's schedule and verdicts (Docker's HEALTHCHECK semantics, which ECS uses),
driven with a real child process per probe."""

from __future__ import annotations

import subprocess
import time

from ecs_local.health import HealthCheck


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, start_new_session=True)


def _settle(check: HealthCheck, now: float) -> str:
    """Ticks at ``now`` until the running probe (if any) has been recorded."""
    status = check.tick(now, _spawn)
    deadline = time.monotonic() + 10
    while check._proc is not None and time.monotonic() < deadline:
        time.sleep(0.01)
        status = check.tick(now, _spawn)
    return status


def test_first_probe_runs_one_interval_after_start() -> None:
    check = HealthCheck.from_definition({"command": ["CMD", "true"], "interval": 5}, 100.0)
    assert check.next_deadline() == 105.0
    assert _settle(check, 104.9) == "UNKNOWN"
    assert check._proc is None
    assert _settle(check, 105.0) == "HEALTHY"


def test_failures_in_start_period_do_not_count_but_a_pass_does() -> None:
    definition = {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "retries": 1}
    check = HealthCheck.from_definition({**definition, "startPeriod": 12}, 0.0)
    assert _settle(check, 5.0) == "UNKNOWN"
    assert _settle(check, 10.0) == "UNKNOWN"
    assert _settle(check, 15.0) == "UNHEALTHY"
    passing = HealthCheck.from_definition(
        {"command": ["CMD", "true"], "interval": 5, "startPeriod": 300}, 0.0
    )
    assert _settle(passing, 5.0) == "HEALTHY"


def test_unhealthy_after_retries_consecutive_failures() -> None:
    check = HealthCheck.from_definition(
        {"command": ["CMD-SHELL", "exit 3"], "interval": 5, "retries": 3}, 0.0
    )
    assert [_settle(check, t) for t in (5.0, 10.0, 15.0)] == ["UNKNOWN", "UNKNOWN", "UNHEALTHY"]


def test_a_probe_that_cannot_be_executed_counts_as_failed() -> None:
    """An image without the check's binary (``curl`` is the usual one): Docker records the
    probe as failed; the check turns UNHEALTHY after ``retries`` of them instead of raising."""
    check = HealthCheck.from_definition(
        {"command": ["CMD", "/nonexistent/curl", "-f", "http://x/"], "interval": 5, "retries": 2},
        0.0,
    )
    assert _settle(check, 5.0) == "UNKNOWN"
    assert check.failures == 1 and check.next_deadline() == 10.0
    assert _settle(check, 10.0) == "UNHEALTHY"
