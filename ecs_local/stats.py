"""Docker-style container statistics for the task metadata endpoint's ``/stats`` paths.

On Fargate, ``${ECS_CONTAINER_METADATA_URI_V4}/stats`` returns the Docker stats of the
container and ``/task/stats`` those of every container of the task, keyed by Docker id. A
container here is a process group: its CPU time, memory and process count are the sums over
the group's live processes (psutil), with the previous reading as ``precpu_stats`` as Docker
gives it. There is no per-container network namespace, so ``networks`` is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any

import psutil

NANOSECONDS = 1_000_000_000


def _group(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return members


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class StatsReader:
    """Reads a process group's stats; remembers each container's last reading."""

    def __init__(self) -> None:
        self._previous: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def read(self, runtime_id: str, pgid: int, name: str, memory_limit_mib: int) -> dict[str, Any]:
        cpu_total = user = system = rss = 0
        members = _group(pgid)
        for proc in members:
            try:
                times = proc.cpu_times()
                user += int(times.user * NANOSECONDS)
                system += int(times.system * NANOSECONDS)
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        cpu_total = user + system
        cpu = {
            "cpu_usage": {
                "total_usage": cpu_total,
                "usage_in_usermode": user,
                "usage_in_kernelmode": system,
            },
            "system_cpu_usage": int(sum(psutil.cpu_times()) * NANOSECONDS),
            "online_cpus": psutil.cpu_count() or 1,
        }
        reading = {
            "read": _now(),
            "name": f"/{name}",
            "id": runtime_id,
            "pids_stats": {"current": len(members)},
            "cpu_stats": cpu,
            "memory_stats": {"usage": rss, "limit": memory_limit_mib * 1024 * 1024, "stats": {}},
        }
        with self._lock:
            previous = self._previous.get(runtime_id)
            self._previous[runtime_id] = reading
        reading["preread"] = previous["read"] if previous else "0001-01-01T00:00:00Z"
        reading["precpu_stats"] = previous["cpu_stats"] if previous else {"cpu_usage": {}}
        return reading

    def forget(self, runtime_id: str) -> None:
        with self._lock:
            self._previous.pop(runtime_id, None)
