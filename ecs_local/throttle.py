"""ECS's service throttle logic, per service, on data (the developer guide's "service throttle
logic").

Only tasks that never reach RUNNING (PENDING straight to STOPPED: an image that cannot be
pulled, a secret that cannot be read) are throttled: the time between attempts grows, up to
27 minutes, and the service writes "is unable to consistently start tasks successfully." once.
A task that stops after it was RUNNING - its command exits at once, it fails its health check -
is no reason to throttle: it is replaced at once. A new task definition ends the throttle.

One declared difference: on Fargate a replacement takes tens of seconds to start, here
milliseconds, so a task that crashed is replaced after ``CRASH_RESTART_GAP`` seconds rather
than in a tight loop. The gap is constant and writes no event.
"""

from __future__ import annotations

from dataclasses import dataclass

START_BACKOFF_BASE = 0.5
START_BACKOFF_MAX = 27 * 60.0
CRASH_RESTART_GAP = 1.0
THROTTLED_EVENT = "(service {service}) is unable to consistently start tasks successfully."


@dataclass
class _ServiceState:
    start_failures: int = 0
    not_before: float = 0.0
    task_definition: str | None = None
    announced: bool = False


class ServiceThrottle:
    """When each service may start its next task; keys are the caller's service keys."""

    def __init__(self) -> None:
        self._services: dict[str, _ServiceState] = {}

    def _state(self, key: str) -> _ServiceState:
        return self._services.setdefault(key, _ServiceState())

    def may_start(self, key: str, now: float) -> bool:
        return now >= self._state(key).not_before

    def task_failed(self, key: str, reached_running: bool, now: float) -> bool:
        """Counts a failed task; True when the throttle begins (the caller writes the event)."""
        state = self._state(key)
        if reached_running:
            state.not_before = max(state.not_before, now + CRASH_RESTART_GAP)
            return False
        state.start_failures += 1
        delay = START_BACKOFF_BASE * 2 ** (state.start_failures - 1)
        state.not_before = now + min(delay, START_BACKOFF_MAX)
        if state.start_failures >= 2 and not state.announced:
            state.announced = True
            return True
        return False

    def task_running(self, key: str) -> None:
        """A task of the service reached RUNNING: its tasks can start."""
        state = self._state(key)
        state.start_failures, state.announced = 0, False

    def deployment(self, key: str, task_definition: str) -> None:
        """The service's PRIMARY task definition; a new one ends the throttle at once."""
        state = self._state(key)
        if state.task_definition not in (None, task_definition):
            self.reset(key)
        self._state(key).task_definition = task_definition

    def reset(self, key: str) -> None:
        task_definition = self._state(key).task_definition
        self._services[key] = _ServiceState(task_definition=task_definition)

    def next_wake(self, now: float) -> float | None:
        """Seconds until the earliest service may start again, if any is waiting."""
        waits = [s.not_before - now for s in self._services.values() if s.not_before > now]
        return min(waits) if waits else None

    def forget(self, keys: set[str]) -> None:
        """Drops the services not in ``keys`` (deleted)."""
        for key in set(self._services) - keys:
            del self._services[key]
