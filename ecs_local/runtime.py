"""Container runtimes: what starts, watches and signals one container of a task.

``LocalProcessRuntime`` runs the container's command as a host process. Each container is
started through a tiny ``sh`` wrapper in a new session (its own process group): the wrapper
traps SIGTERM/SIGINT so that it outlives its child, writes the child's exit status (128+signal
when killed, as Docker reports it) to ``<container>.exit`` and has its stdout/stderr in
``<container>.log``. That makes the exit code readable by any later runtime process, which is
what lets a restarted runtime adopt tasks it did not start.

A Docker runtime (docker SDK, where an engine exists) implements the same ``ContainerRuntime``
protocol with the container id as ``runtime_id``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import psutil

_WRAPPER = 'trap : TERM INT; "$@"; code=$?; echo $code > "$0.tmp" && mv "$0.tmp" "$0"'


@dataclass
class ContainerSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    directory: Path


@dataclass
class ContainerHandle:
    runtime_id: str
    pid: int
    create_time: float
    log_path: str
    exit_path: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ContainerHandle:
        return cls(**data)  # type: ignore[arg-type]


class ContainerRuntime(Protocol):
    def start(self, spec: ContainerSpec) -> ContainerHandle: ...

    def exit_code(self, handle: ContainerHandle) -> int | None:
        """None while the container runs; its exit code once it has exited."""

    def signal(self, handle: ContainerHandle, signum: int) -> None: ...

    def environ(self, handle: ContainerHandle) -> dict[str, str] | None:
        """The environment the container runs with; None if it is gone or cannot be read."""

    def exec(self, spec: ContainerSpec, argv: list[str]) -> subprocess.Popen[bytes]:
        """Starts a command in the container's environment (health checks)."""


class LocalProcessRuntime:
    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        spec.directory.mkdir(parents=True, exist_ok=True)
        log_path = spec.directory / f"{spec.name}.log"
        exit_path = spec.directory / f"{spec.name}.exit"
        exit_path.unlink(missing_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", _WRAPPER, str(exit_path), *spec.argv],
                cwd=spec.cwd,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children[proc.pid] = proc
        try:
            create_time = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            create_time = 0.0
        return ContainerHandle(str(proc.pid), proc.pid, create_time, str(log_path), str(exit_path))

    def _alive(self, handle: ContainerHandle) -> bool:
        child = self._children.get(handle.pid)
        if child is not None:
            if child.poll() is None:
                return True
            del self._children[handle.pid]
            return False
        try:
            proc = psutil.Process(handle.pid)
            same = abs(proc.create_time() - handle.create_time) < 0.05
            return same and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def exit_code(self, handle: ContainerHandle) -> int | None:
        path = Path(handle.exit_path)
        if path.exists():
            self._alive(handle)  # reaps our own wrapper
            try:
                return int(path.read_text().strip())
            except ValueError:
                return None
        if self._alive(handle):
            return None
        # The wrapper itself was killed (SIGKILL to the group): Docker reports 137.
        return 137

    def signal(self, handle: ContainerHandle, signum: int) -> None:
        if not self._alive(handle):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(handle.pid, signum)

    def environ(self, handle: ContainerHandle) -> dict[str, str] | None:
        """The wrapper's environment, which is the one it and the container were started with."""
        try:
            proc = psutil.Process(handle.pid)
            if abs(proc.create_time() - handle.create_time) >= 0.05:
                return None
            return dict(proc.environ())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def exec(self, spec: ContainerSpec, argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
