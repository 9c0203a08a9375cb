"""Where a location's DAG package lies (``DAGS_DIR``), without importing Dagster: the sync agent
reads it too and stays a small process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DAGS_DIR_ENV = "DAGS_DIR"
DEFAULT_DAGS_DIR = "dags/main"


def dags_dir_from_env(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """``DAGS_DIR`` (default ``dags/main``) as an absolute path; relative paths are from ``cwd``."""
    env = os.environ if env is None else env
    raw = env.get(DAGS_DIR_ENV) or DEFAULT_DAGS_DIR
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return path.resolve()
