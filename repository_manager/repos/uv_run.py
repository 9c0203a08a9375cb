"""Running the uv binary shipped by the ``uv`` wheel, and reading its failures."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from repository_manager.repos.errors import RepoError, one_line


@dataclass(frozen=True)
class UvResult:
    returncode: int
    stdout: str
    stderr: str


def uv_bin() -> str:
    import uv

    return str(uv.find_uv_bin())


def uv_env(cache_dir: Path | None) -> dict[str, str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    for inherited in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"):
        env.pop(inherited, None)
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    return env


def run_uv(
    args: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path | None = None
) -> UvResult:
    try:
        proc = subprocess.run(
            [uv_bin(), *args],
            capture_output=True,
            text=True,
            env=dict(env),
            cwd=cwd,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise RepoError(
            f"uv {args[0]} did not finish within {timeout:g}s: raise the timeout"
        ) from None
    return UvResult(proc.returncode, proc.stdout, proc.stderr)


_FAILED_PACKAGE = [
    (
        re.compile(r"Because (?:there is no version of )?([A-Za-z0-9][\w.-]*)\S* was not found"),
        "not found in the package registry",
    ),
    (
        re.compile(r"Because there is no version of ([A-Za-z0-9][\w.-]*)"),
        "no matching version exists",
    ),
    (re.compile(r"Failed to build `([A-Za-z0-9][\w.-]*)"), "its build failed"),
    (re.compile(r"Failed to download `([A-Za-z0-9][\w.-]*)"), "its download failed"),
    (re.compile(r"Failed to fetch: `[^`]*/([A-Za-z0-9][\w.-]*)/?`"), "its download failed"),
    (re.compile(r"[Dd]istribution not found at: file://(\S+)"), "a local path does not exist"),
]
_REQUIRED = re.compile(r"(?:you require|depends on) ([A-Za-z0-9][\w.-]*?)(?=[<>=!~;\[ ,]|$)")


@dataclass(frozen=True)
class UvFailure:
    package: str | None
    reason: str
    cause: str
    tail: tuple[str, ...]


def read_failure(stderr: str) -> UvFailure:
    """The package a failed ``uv pip install`` names, and why, from uv's error output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line.removeprefix("cause:").strip() for line in lines if line.startswith("cause:")]
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    cause = causes[0] if causes else (errors[0] if errors else (lines[-1] if lines else ""))
    tail = tuple(lines[-3:])
    for pattern, reason in _FAILED_PACKAGE:
        match = pattern.search(stderr)
        if match:
            return UvFailure(match.group(1), reason, one_line(cause), tail)
    names = _REQUIRED.findall(cause)
    if names:
        return UvFailure(names[-1], "its requirements conflict", one_line(cause), tail)
    return UvFailure(None, "uv failed", one_line(cause), tail)
