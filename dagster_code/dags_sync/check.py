"""Import-checks a staged DAG tree in a fresh interpreter, as the code server would load it.

``python -m dagster_code.dags_sync.check <module>`` with ``DAGS_DIR`` naming the staged tree
imports the location's definitions module; on failure it prints an :class:`ImportFailure` (the
file and line inside the tree) as JSON on stdout and exits 1.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import traceback
from pathlib import Path

from dagster_code.dags_sync.manifest import IMAGE_DIR_ENV, ImportFailure

CHECK_TIMEOUT_SECONDS = 120


def failure_from(error: BaseException, tree: Path) -> ImportFailure:
    """The innermost frame inside ``tree`` (or a SyntaxError's own position)."""
    tree = tree.resolve()

    def relative(filename: str | None) -> str | None:
        if not filename:
            return None
        try:
            return Path(filename).resolve().relative_to(tree).as_posix()
        except ValueError:
            return None

    message = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError) and relative(error.filename):
        return ImportFailure(file=relative(error.filename), line=error.lineno, error=message)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if relative(f.filename)]
    if frames:
        return ImportFailure(
            file=relative(frames[-1].filename), line=frames[-1].lineno, error=message
        )
    return ImportFailure(error=message)


def check_tree(
    tree: Path,
    module: str,
    env: dict[str, str] | None = None,
    *,
    image_dags_dir: Path | None = None,
) -> ImportFailure | None:
    """None when ``module`` imports with ``DAGS_DIR=tree`` in a subprocess (and
    ``DAGS_IMAGE_DIR``, where a repository's definitions find the tree it replaces)."""
    child_env = {**(os.environ if env is None else env), "DAGS_DIR": str(tree)}
    if image_dags_dir is not None:
        child_env[IMAGE_DIR_ENV] = str(image_dags_dir)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dagster_code.dags_sync.check", module],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ImportFailure(error=f"importing {module} took over {CHECK_TIMEOUT_SECONDS} s")
    if result.returncode == 0:
        return None
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return ImportFailure.model_validate_json(line)
    tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return ImportFailure(error=f"import check exited {result.returncode}: {tail}")


def main() -> int:
    module = sys.argv[1]
    tree = Path(os.environ["DAGS_DIR"])
    try:
        importlib.import_module(module)
    except BaseException as error:
        print(failure_from(error, tree).model_dump_json(), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
