"""Where a repository's Dagster definitions are: explicit, or by the repository's conventions.

Order: an explicit ``python_file``/``module``; ``pyproject.toml`` ``[tool.dagster] module_name``;
a ``[tool.dg]`` project (``<root_module>.definitions``, or its ``code_location_target_module``);
else a single ``definitions.py`` at the root, one level down, or in ``src/<pkg>/``. A
``definitions.py`` inside a package is targeted as a module (``pkg.definitions``) so that its
relative imports work; ``--python-file`` loading has no parent package.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel

from repository_manager.repos.errors import RepoError

_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_SKIPPED_DIRS = {"venv", "node_modules", "site-packages", "build", "dist"}
HOW_TO_POINT = "set PYTHON_FILE=path/to/definitions.py or MODULE=package.definitions"


class DefinitionsTarget(BaseModel):
    kind: Literal["python_file", "module"]
    value: str
    working_directory: str = "."

    def code_server_args(self) -> list[str]:
        """Arguments for ``dagster code-server start`` (relative to the checkout)."""
        flag = "--python-file" if self.kind == "python_file" else "--module-name"
        return [flag, self.value, "--working-directory", self.working_directory]


def find_definitions(
    checkout: Path, python_file: str | None = None, module: str | None = None
) -> DefinitionsTarget:
    if python_file and module:
        raise RepoError("set python_file or module, not both")
    if python_file:
        return _explicit_file(checkout, python_file)
    if module:
        return _module_target(checkout, module, "module")
    pyproject = _read_pyproject(checkout)
    tool = pyproject.get("tool", {})
    dagster_module = tool.get("dagster", {}).get("module_name")
    if dagster_module:
        return _module_target(checkout, str(dagster_module), "[tool.dagster] module_name")
    dg_project = tool.get("dg", {}).get("project", {})
    if dg_project.get("root_module"):
        target = dg_project.get("code_location_target_module") or (
            f"{dg_project['root_module']}.definitions"
        )
        return _module_target(checkout, str(target), "[tool.dg.project]")
    return _discovered(checkout)


def _explicit_file(checkout: Path, python_file: str) -> DefinitionsTarget:
    pure = PurePosixPath(python_file)
    root = checkout.resolve()
    path = (root / pure).resolve()
    if pure.is_absolute() or ".." in pure.parts or not path.is_relative_to(root):
        raise RepoError(
            f"python_file {python_file!r} must be a path inside the repository, without '..'"
        )
    if not path.is_file():
        raise RepoError(f"python_file {python_file!r} does not exist in the repository")
    working_directory = "src" if pure.parts[0] == "src" and len(pure.parts) > 1 else "."
    return DefinitionsTarget(
        kind="python_file", value=str(pure), working_directory=working_directory
    )


def _module_target(checkout: Path, module: str, source: str) -> DefinitionsTarget:
    if not _MODULE.fullmatch(module):
        raise RepoError(f"{source} {module!r} is not a dotted module name: {HOW_TO_POINT}")
    top = module.split(".")[0]
    in_src = not _has_top_level(checkout, top) and _has_top_level(checkout / "src", top)
    return DefinitionsTarget(
        kind="module", value=module, working_directory="src" if in_src else "."
    )


def _has_top_level(directory: Path, name: str) -> bool:
    return (directory / name).is_dir() or (directory / f"{name}.py").is_file()


def _discovered(checkout: Path) -> DefinitionsTarget:
    candidates: list[DefinitionsTarget] = []
    if (checkout / "definitions.py").is_file():
        candidates.append(DefinitionsTarget(kind="python_file", value="definitions.py"))
    for base, working_directory in ((checkout, "."), (checkout / "src", "src")):
        for path in sorted(base.glob("*/definitions.py")):
            package = path.parent
            if package.name.startswith((".", "_")) or package.name in _SKIPPED_DIRS:
                continue
            if base == checkout and package.name == "src":
                continue
            candidates.append(_candidate(checkout, path, working_directory))
    if not candidates:
        raise RepoError(f"no Dagster definitions found in the repository: {HOW_TO_POINT}")
    if len(candidates) > 1:
        found = ", ".join(_describe(c) for c in candidates)
        raise RepoError(f"several Dagster definitions found ({found}): {HOW_TO_POINT}")
    return candidates[0]


def _candidate(checkout: Path, path: Path, working_directory: str) -> DefinitionsTarget:
    package = path.parent
    if (package / "__init__.py").is_file() and package.name.isidentifier():
        return DefinitionsTarget(
            kind="module", value=f"{package.name}.definitions", working_directory=working_directory
        )
    relative = path.relative_to(checkout).as_posix()
    return DefinitionsTarget(
        kind="python_file", value=relative, working_directory=working_directory
    )


def _describe(target: DefinitionsTarget) -> str:
    if target.kind == "python_file":
        return target.value
    prefix = "" if target.working_directory == "." else f"{target.working_directory}/"
    return prefix + target.value.replace(".", "/") + ".py"


def _read_pyproject(checkout: Path) -> dict[str, Any]:
    path = checkout / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RepoError(f"pyproject.toml of the repository is not valid TOML: {error}") from None
