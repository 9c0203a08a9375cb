"""Follows the local stack's logs, prefixed by component, like ``docker compose logs -f``.

Two kinds of source: the supervised processes' log files, and the ECS services' CloudWatch Logs
streams (where the runtime's awslogs driver ships them, as on AWS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class LogSource(Protocol):
    name: str

    def history(self, lines: int) -> list[str]:
        """The last ``lines`` lines; afterwards ``poll`` returns only what is newer."""

    def poll(self) -> list[str]:
        """Complete lines written since the last call."""


@dataclass
class FileSource:
    name: str
    path: Path
    offset: int = 0
    partial: str = ""

    def history(self, lines: int) -> list[str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        self.offset = len(data)
        text = data.decode(errors="replace").splitlines()
        return text[-lines:] if lines else []

    def poll(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk.decode(errors="replace")).split("\n")
        return complete


@dataclass
class CloudWatchSource:
    """Every stream of one log group under one prefix (``prefix/container/``).

    Asks CloudWatch Logs at most once per ``interval`` and only for events since the newest it
    has seen, so following a stack costs its emulator a request per service every few seconds.
    """

    name: str
    logs: Any
    group: str
    prefix: str
    interval: float = 2.0
    seen: set[str] = field(default_factory=set)
    since: int = 0
    due: float = 0.0

    def _events(self, start: int | None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix}
        if start:
            request["startTime"] = start
        events: list[dict[str, Any]] = []
        try:
            for _ in range(20):
                page = self.logs.filter_log_events(**request)
                events += page["events"]
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        return sorted(events, key=lambda event: (event["timestamp"], event["eventId"]))

    def _remember(self, events: list[dict[str, Any]]) -> None:
        """``since`` is the newest timestamp seen (``startTime`` is inclusive), ``seen`` the ids
        of the events at that timestamp: what the next poll must not show again."""
        if not events:
            return
        newest = max(event["timestamp"] for event in events)
        if newest > self.since:
            self.since, self.seen = newest, set()
        self.seen |= {e["eventId"] for e in events if e["timestamp"] == self.since}

    def history(self, lines: int) -> list[str]:
        events = self._events(None)
        self._remember(events)
        self.due = time.monotonic() + self.interval
        return [event["message"] for event in events[-lines:]] if lines else []

    def poll(self) -> list[str]:
        if time.monotonic() < self.due:
            return []
        self.due = time.monotonic() + self.interval
        fresh = [e for e in self._events(self.since) if e["eventId"] not in self.seen]
        self._remember(fresh)
        return [event["message"] for event in fresh]


def follow(
    sources: list[LogSource], *, lines: int, follow: bool, interval: float = 0.25
) -> Iterator[tuple[str, str]]:
    """Yields ``(component, line)``: the history of each source, then new lines as they come.

    The history is read when this is called, not on the first ``next``: whatever is written
    afterwards counts as new.
    """
    history = [(source.name, line) for source in sources for line in source.history(lines)]
    return _stream(sources, history, follow, interval)


def _stream(
    sources: list[LogSource], history: list[tuple[str, str]], follow: bool, interval: float
) -> Iterator[tuple[str, str]]:
    yield from history
    while follow:
        grew = False
        for source in sources:
            for line in source.poll():
                grew = True
                yield source.name, line
        if not grew:
            time.sleep(interval)
