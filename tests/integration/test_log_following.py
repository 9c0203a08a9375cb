"""Following CloudWatch Logs (``make dev-logs``) against the real emulator: every event once,
and at most one request per source per interval."""

from __future__ import annotations

import time
from typing import Any

import boto3

from repository_manager.devstack.logs import CloudWatchSource


def _logs(emulator: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        "logs",
        endpoint_url=emulator,
        region_name="ap-southeast-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_following_shows_each_event_once_and_asks_at_most_every_interval(emulator: str) -> None:
    logs = _logs(emulator)
    group = f"/follow/{time.time_ns()}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="p/app/1")
    calls: list[str] = []
    logs.meta.events.register(
        "before-call.logs.FilterLogEvents", lambda **_: calls.append("filter")
    )

    def put(*messages: tuple[int, str]) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="p/app/1",
            logEvents=[{"timestamp": t, "message": m} for t, m in messages],
        )

    now = int(time.time() * 1000)
    put((now, "one"))
    source = CloudWatchSource("svc", logs, group, "p/", interval=0.0)
    assert source.history(10) == ["one"]
    put((now, "same millisecond"), (now + 1, "two"))
    assert source.poll() == ["same millisecond", "two"]
    assert source.poll() == []

    slow = CloudWatchSource("svc", logs, group, "p/", interval=3600.0)
    assert slow.history(1) == ["two"]
    before = len(calls)
    put((now + 2, "three"))
    assert [slow.poll() for _ in range(50)] == [[]] * 50
    assert len(calls) == before, "polled more often than its interval"
