"""Imports a repository's DAG package from a directory.

Contract: ``DAGS_DIR`` names a directory that is a Python package (it has ``__init__.py``),
and that ``__init__.py`` exposes ``defs``, a ``dagster.Definitions``. The package may use
relative imports (``from .assets import ...``). It is imported under a module name derived from
its absolute path, so two repositories with the same module layout never collide in
``sys.modules``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

from dagster import Definitions

from dagster_code.dags_path import DAGS_DIR_ENV, DEFAULT_DAGS_DIR, dags_dir_from_env

__all__ = [
    "DAGS_DIR_ENV",
    "DEFAULT_DAGS_DIR",
    "DagsLoadError",
    "dags_dir_from_env",
    "load_dag_package",
]


class DagsLoadError(RuntimeError):
    """``DAGS_DIR`` does not name a loadable DAG package."""


def package_module_name(dags_dir: Path) -> str:
    """A module name unique to the directory, e.g. ``dagster_dags_main_1a2b3c4d``."""
    resolved = dags_dir.resolve()
    slug = re.sub(r"\W", "_", resolved.name) or "root"
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return f"dagster_dags_{slug}_{digest}"


def load_dag_package(dags_dir: Path) -> Definitions:
    """Imports the package at ``dags_dir`` and returns its ``defs``."""
    where = f"{DAGS_DIR_ENV}={dags_dir}"
    if not dags_dir.is_dir():
        raise DagsLoadError(f"{where} is not a directory: point {DAGS_DIR_ENV} at a DAG package")
    init = dags_dir / "__init__.py"
    if not init.is_file():
        raise DagsLoadError(
            f"{where} is not a Python package: add an __init__.py that exposes `defs`"
        )

    name = package_module_name(dags_dir)
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(dags_dir)]
        )
        if spec is None or spec.loader is None:
            raise DagsLoadError(f"{where} cannot be imported as a package")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
                del sys.modules[loaded]
            raise

    defs = getattr(module, "defs", None)
    if not isinstance(defs, Definitions):
        found = "nothing" if defs is None else type(defs).__name__
        raise DagsLoadError(
            f"{where}: __init__.py must expose `defs` as a dagster.Definitions (found {found})"
        )
    return defs
