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
    """Every stream of one log group under one prefix (``prefix/container/``)."""

    name: str
    logs: Any
    group: str
    prefix: str
    seen: set[str] = field(default_factory=set)

    def _events(self) -> list[dict[str, Any]]:
        try:
            events = self.logs.filter_log_events(
                logGroupName=self.group, logStreamNamePrefix=self.prefix
            )["events"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        return sorted(events, key=lambda event: (event["timestamp"], event["eventId"]))

    def history(self, lines: int) -> list[str]:
        events = self._events()
        self.seen = {event["eventId"] for event in events}
        return [event["message"] for event in events[-lines:]] if lines else []

    def poll(self) -> list[str]:
        fresh = [event for event in self._events() if event["eventId"] not in self.seen]
        self.seen.update(event["eventId"] for event in fresh)
        return [event["message"] for event in fresh]


def follow(
    sources: list[LogSource], *, lines: int, follow: bool, interval: float = 0.5
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
