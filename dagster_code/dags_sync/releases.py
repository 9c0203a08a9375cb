"""A code location's local release trees: ``releases/<content hash>/`` and a ``current`` symlink.

A release is built in a staging folder, verified, and only then renamed into place; ``current``
moves with one atomic ``rename`` of a fresh symlink, so a reader sees the old tree or the new
one, never a mix. The previous releases stay (the last few) for runs already importing them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dagster_code.dags_sync.manifest import IMAGE_DEPLOYMENT, MANIFEST_FILE, Deployment, FileEntry

KEEP_RELEASES = 3
SKIPPED_DIRS = frozenset({"__pycache__", ".git"})


class VerificationError(RuntimeError):
    """A downloaded file is not what the manifest says."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_files(root: Path) -> dict[str, Path]:
    """The files of a DAG tree by relative POSIX path, without caches and hidden entries."""
    files: dict[str, Path] = {}
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = Path(directory) / name
            files[path.relative_to(root).as_posix()] = path
    return files


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current = root / "current"

    def current_release(self) -> Path | None:
        return self.current.resolve() if self.current.is_symlink() else None

    def current_deployment(self) -> Deployment | None:
        release = self.current_release()
        manifest = release / MANIFEST_FILE if release else None
        if manifest is None or not manifest.is_file():
            return None
        return Deployment.model_validate_json(manifest.read_text())

    def build(
        self, deployment: Deployment, download: Callable[[FileEntry, Path], None]
    ) -> tuple[Path, int]:
        """Stages the deployment's tree, taking unchanged files from the current release and
        downloading the others; returns the staged folder and how many files were fetched."""
        self.releases.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.releases))
        reusable = self._current_files_by_hash()
        fetched = 0
        try:
            for entry in deployment.files:
                target = staging / entry.path
                target.parent.mkdir(parents=True, exist_ok=True)
                local = reusable.get(entry.sha256)
                if local is not None:
                    shutil.copy2(local, target)
                else:
                    download(entry, target)
                    fetched += 1
                    actual = sha256_of(target)
                    if actual != entry.sha256:
                        raise VerificationError(
                            f"{entry.path}: downloaded content has sha256 {actual[:12]}…, "
                            f"the manifest says {entry.sha256[:12]}…"
                        )
            (staging / MANIFEST_FILE).write_text(deployment.model_dump_json(indent=2))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, fetched

    def seed_from(self, source: Path, location: str) -> tuple[Path, Deployment]:
        """A release holding the image's own DAG tree (deployment 0, before any deployment)."""
        files = tree_files(source)
        deployment = Deployment(
            location=location,
            id=0,
            created_at=datetime.now(UTC),
            files=[
                FileEntry(
                    path=rel,
                    version_id=IMAGE_DEPLOYMENT,
                    sha256=sha256_of(p),
                    size=p.stat().st_size,
                )
                for rel, p in files.items()
            ],
        )
        self.releases.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.releases))
        for relative, path in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (staging / MANIFEST_FILE).write_text(deployment.model_dump_json(indent=2))
        return staging, deployment

    def place(self, staging: Path, name: str) -> Path:
        """Moves a verified staging tree to ``releases/<name>`` (kept if already there)."""
        release = self.releases / name
        if release.exists():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(release)
        return release

    def activate(self, staging: Path, name: str) -> Path:
        """Places a verified staging tree and points ``current`` at it."""
        release = self.place(staging, name)
        link = self.root / f".current-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(release.relative_to(self.root))
        os.replace(link, self.current)
        self._prune(keep=release)
        return release

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def _current_files_by_hash(self) -> dict[str, Path]:
        release = self.current_release()
        deployment = self.current_deployment()
        if release is None or deployment is None:
            return {}
        return {
            entry.sha256: release / entry.path
            for entry in deployment.files
            if (release / entry.path).is_file()
        }

    def _prune(self, keep: Path) -> None:
        releases = sorted(
            (p for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in [p for p in releases if p != keep][KEEP_RELEASES - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
