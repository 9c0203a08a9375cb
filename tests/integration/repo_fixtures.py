"""Git repositories the repository tests add: real repositories, made by the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(folder: Path, *args: str) -> str:
    import os

    done = subprocess.run(
        ["git", *args],
        cwd=folder,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit_all(folder: Path, message: str) -> str:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)
    return git(folder, "rev-parse", "HEAD")


def dagster_repo(folder: Path, package: str, assets: dict[str, str]) -> Path:
    """A repository with ``{package}/definitions.py`` defining ``assets`` (name → body line)."""
    (folder / package).mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / package / "__init__.py").write_text("")
    write_assets(folder, package, assets)
    (folder / "requirements.txt").write_text("six\n")
    commit_all(folder, "first")
    return folder


def write_assets(folder: Path, package: str, assets: dict[str, str]) -> None:
    lines = ["from dagster import Definitions, asset", ""]
    for name, body in assets.items():
        lines += ["@asset", f"def {name}():", f"    {body}", ""]
    lines.append(f"defs = Definitions(assets=[{', '.join(assets)}])")
    (folder / package / "definitions.py").write_text("\n".join(lines) + "\n")


def url(folder: Path) -> str:
    return f"file://{folder}"
