"""Container health checks with Docker/ECS semantics (command, interval, timeout, retries,
startPeriod): UNKNOWN until the first result, HEALTHY after a pass, UNHEALTHY after
``retries`` consecutive failures; failures inside the start period do not count.

As Docker's HEALTHCHECK (which ECS's maps to), the first probe runs ``interval`` seconds
after the container started, not at once (moby/moby#33410)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def check_argv(command: list[str]) -> list[str]:
    if not command:
        raise ValueError("healthCheck.command is empty")
    if command[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(command[1:])]
    if command[0] == "CMD":
        return list(command[1:])
    return list(command)


@dataclass
class HealthCheck:
    argv: list[str]
    interval: float = 30.0
    timeout: float = 5.0
    retries: int = 3
    start_period: float = 0.0
    status: str = "UNKNOWN"
    failures: int = 0
    next_at: float = 0.0
    started_at: float = 0.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _proc_deadline: float = 0.0

    @classmethod
    def from_definition(cls, definition: dict[str, Any], container_started: float) -> HealthCheck:
        return cls(
            argv=check_argv(definition["command"]),
            interval=float(definition.get("interval", 30)),
            timeout=float(definition.get("timeout", 5)),
            retries=int(definition.get("retries", 3)),
            start_period=float(definition.get("startPeriod", 0)),
            started_at=container_started,
            next_at=container_started + float(definition.get("interval", 30)),
        )

    def tick(self, now: float, spawn: Callable[[list[str]], subprocess.Popen[bytes]]) -> str:
        """Advances the check; returns the current status."""
        if self._proc is not None:
            code = self._proc.poll()
            if code is None and now < self._proc_deadline:
                return self.status
            if code is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._record(code == 0, now)
            self._proc = None
        if self._proc is None and now >= self.next_at:
            self.next_at = now + self.interval
            try:
                self._proc = spawn(self.argv)
            except OSError:
                # Docker counts a probe it cannot exec (``curl`` not in the image) as failed.
                self._record(False, now)
                return self.status
            self._proc_deadline = now + self.timeout
        return self.status

    def _record(self, passed: bool, now: float) -> None:
        if passed:
            self.status, self.failures = "HEALTHY", 0
        elif now - self.started_at >= self.start_period:
            self.failures += 1
            if self.failures >= self.retries:
                self.status = "UNHEALTHY"

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def next_deadline(self) -> float:
        return min(self.next_at, self._proc_deadline) if self._proc is not None else self.next_at
