"""Which of a repository's files declare its dependencies, and which file names a package."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class DependencySources:
    """``uv.lock`` wins over the project's ranges (it is what the authors tested); a packaged
    project (``[project]`` or ``setup.py``) is installed itself; ``requirements.txt`` is added
    in any case, since repositories often keep extra pins there."""

    checkout: Path
    lock: bool
    project: bool
    requirements: bool

    def files(self) -> list[Path]:
        names = [
            ("uv.lock", self.lock),
            ("pyproject.toml", (self.checkout / "pyproject.toml").is_file()),
            ("setup.py", (self.checkout / "setup.py").is_file()),
            ("requirements.txt", self.requirements),
        ]
        return [self.checkout / name for name, present in names if present]

    def reads_checkout(self) -> bool:
        """Whether installing takes files of the checkout beyond the dependency files: the
        project itself, or a requirement or lock entry naming a local path or another file."""
        if self.project:
            return True
        if self.requirements:
            text = (self.checkout / "requirements.txt").read_text(
                encoding="utf-8", errors="replace"
            )
            for raw in text.splitlines():
                line = raw.split(" #", 1)[0].strip()
                if _LOCAL_REQUIREMENT.match(line) or "file:" in line:
                    return True
        if self.lock:
            text = (self.checkout / "uv.lock").read_text(encoding="utf-8", errors="replace")
            if _LOCAL_LOCK_SOURCE.search(text):
                return True
        return False


_LOCAL_REQUIREMENT = re.compile(
    r"^(-r|-c|-e|--requirement|--constraint|--editable)\b|^[./~]|^[A-Za-z]:\\"
)
_LOCAL_LOCK_SOURCE = re.compile(r"source = \{ (editable|path|directory) = ")


def dependency_sources(checkout: Path) -> DependencySources:
    pyproject = _toml(checkout / "pyproject.toml")
    has_project = "project" in pyproject
    packaged = pyproject.get("tool", {}).get("uv", {}).get("package", True)
    return DependencySources(
        checkout=checkout,
        lock=has_project and (checkout / "uv.lock").is_file(),
        project=(has_project and packaged is not False) or (checkout / "setup.py").is_file(),
        requirements=(checkout / "requirements.txt").is_file(),
    )


def file_naming(package: str, sources: DependencySources) -> str | None:
    """The repository file (relative name) that declares ``package``, if any."""
    wanted = canonicalize_name(package)
    checkout = sources.checkout
    if sources.requirements and wanted in _requirement_names(checkout / "requirements.txt"):
        return "requirements.txt"
    project = _toml(checkout / "pyproject.toml").get("project", {})
    declared = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        declared.extend(extra)
    if wanted in {_name(d) for d in declared} or wanted == canonicalize_name(
        str(project.get("name", ""))
    ):
        return "pyproject.toml"
    if sources.lock:
        text = (checkout / "uv.lock").read_text(encoding="utf-8", errors="replace")
        if re.search(rf'^name = "{re.escape(package)}"$', text, re.MULTILINE | re.IGNORECASE):
            return "uv.lock"
    return None


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = _name(line)
            if name:
                names.add(name)
    return names


def _name(requirement: str) -> str | None:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None


def _toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
