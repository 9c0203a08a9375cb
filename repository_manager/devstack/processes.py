"""Detached background processes with a pid record, a log file and a process-group stop.

Each component runs in its own session so that stopping it stops everything it spawned
(Dagster's code server, for one, forks a child per loaded location).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from dagster_ecs_emulator.postgres import drop_privileges_kwargs


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    log_path: str
    argv: list[str]

    def process(self) -> psutil.Process | None:
        """The live process of this record, or None (pid gone, reused or a zombie)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.NoSuchProcess:
            return None

    def is_running(self) -> bool:
        return self.process() is not None

    def exit_code(self) -> int | None:
        """The exit code when this process is our own child that has ended, else None."""
        child = _children.get(self.pid)
        return child.poll() if child is not None else None


_children: dict[int, subprocess.Popen[bytes]] = {}


def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def start(
    name: str,
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    run_dir: Path,
    log_path: Path,
    user: str | None = None,
) -> ProcessRecord:
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **drop_privileges_kwargs(user),
        )
    _children[proc.pid] = proc
    record = ProcessRecord(
        name=name,
        pid=proc.pid,
        create_time=psutil.Process(proc.pid).create_time(),
        log_path=str(log_path),
        argv=argv,
    )
    record_path(run_dir, name).write_text(json.dumps(asdict(record)))
    return record


def read(run_dir: Path, name: str) -> ProcessRecord | None:
    path = record_path(run_dir, name)
    try:
        return ProcessRecord(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def _group_members(record: ProcessRecord) -> list[psutil.Process]:
    proc = record.process()
    if proc is None:
        return []
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop(
    run_dir: Path, name: str, *, timeout: float = 15.0, stop_signal: int = signal.SIGTERM
) -> bool:
    """Stops a component and every process it spawned; returns whether anything was running.

    The signal goes to the whole process group first (like ``docker stop``); whatever is still
    alive after ``timeout`` is killed.
    """
    record = read(run_dir, name)
    if record is None:
        return False
    members = _group_members(record)
    was_running = bool(members)
    if members:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, stop_signal)
        _, alive = psutil.wait_procs(members, timeout=timeout)
        for member in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(alive, timeout=5)
    record.exit_code()
    record_path(run_dir, name).unlink(missing_ok=True)
    return was_running


def last_lines(log_path: Path, count: int = 1) -> list[str]:
    try:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return []
    return lines[-count:]
