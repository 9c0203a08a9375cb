"""What every repository image gets from the platform, read from the platform's own files.

The Dagster pins come from the platform's ``pyproject.toml`` ``[project].dependencies`` (names
starting with ``dagster``, plus ``psycopg2-binary`` and ``boto3``), so there is one list to
maintain. The ``dagster_code`` package (the platform's io_manager and executor wrapper) is copied
into each image rather than installed from the platform project: installing the project, even
``--no-deps``, would also bring ``repository_manager``, ``ecs_local`` and
``dagster_ecs_emulator`` (names a repository's own dependency may use), and a ``.pth`` to the
checkout would let a later edit of the platform change an image after it was built.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repository_manager.repos.errors import RepoError

PLATFORM_ROOT = Path(__file__).resolve().parents[2]
PLATFORM_PACKAGE = "dagster_code"
_EXTRA_PINNED = {"psycopg2-binary", "boto3"}


def platform_requirements(platform_root: Path = PLATFORM_ROOT) -> list[str]:
    """The requirement strings every repository image installs, in the pyproject's order."""
    path = platform_root / "pyproject.toml"
    try:
        deps = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise RepoError(f"cannot read the platform's pins from {path}: {error}") from None
    chosen = []
    for dep in deps:
        try:
            name = canonicalize_name(Requirement(dep).name)
        except InvalidRequirement:
            raise RepoError(
                f"{path}: invalid requirement {dep!r} in [project].dependencies"
            ) from None
        if name.startswith("dagster") or name in _EXTRA_PINNED:
            chosen.append(dep)
    if not any(canonicalize_name(Requirement(d).name) == "dagster" for d in chosen):
        raise RepoError(f"{path} pins no dagster in [project].dependencies")
    return chosen


def platform_package_dir(platform_root: Path = PLATFORM_ROOT) -> Path:
    package = platform_root / PLATFORM_PACKAGE
    if not (package / "__init__.py").is_file():
        raise RepoError(
            f"the platform package {package} is missing: is {platform_root} the checkout?"
        )
    return package


def platform_package_files(platform_root: Path = PLATFORM_ROOT) -> list[Path]:
    package = platform_package_dir(platform_root)
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def platform_package_hash(platform_root: Path = PLATFORM_ROOT) -> str:
    """A content hash of ``dagster_code`` (relative paths and bytes of its ``.py`` files)."""
    package = platform_package_dir(platform_root)
    digest = hashlib.sha256()
    for path in platform_package_files(platform_root):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
