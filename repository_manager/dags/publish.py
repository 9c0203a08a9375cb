"""Uploads a DAG tree as a new deployment: only changed files, then the manifest.

The manifest is created with ``If-None-Match: *`` under the next id, so of two concurrent
deploys to one location exactly one takes each id: the other fails cleanly and changes no
deployment (each manifest names the object versions it uploaded, so neither can see the
other's files).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from botocore.exceptions import ClientError

from dagster_code.dags_sync.manifest import Deployment, FileEntry, deployment_key, file_key
from dagster_code.dags_sync.releases import sha256_of, tree_files
from repository_manager.dags import history
from repository_manager.dags.errors import DagsError


@dataclass(frozen=True)
class Published:
    deployment: Deployment
    uploaded: list[str]
    deleted: list[str]
    unchanged: int


def check_source(source: Path) -> dict[str, Path]:
    """The tree's files; refuses a missing or empty folder and a Python file that does not
    compile (its file and line), before anything is uploaded."""
    if not source.is_dir():
        raise DagsError(f"{source} is not a directory: put the location's DAG files there")
    files = tree_files(source)
    if not files:
        raise DagsError(f"{source} holds no files: nothing to deploy")
    for relative, path in files.items():
        if path.suffix != ".py":
            continue
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as error:
            raise DagsError(
                f"{source / relative}:{error.lineno}: SyntaxError: {error.msg}; nothing deployed"
            ) from None
    return files


def check_not_nested(source: Path, files: dict[str, Path], package: str | None) -> None:
    """A repository's deployment holds its ``dags_dir`` package's own files: a source that
    holds the package folder itself (``pkg/…`` and nothing beside it) would be served as
    ``pkg/pkg/…``, which its definitions never import."""
    if package is None:
        return
    tops = {PurePosixPath(relative).parts[0] for relative in files}
    if tops == {package} and (source / package).is_dir():
        raise DagsError(
            f"{source} holds the package folder {package}/ itself: pass --source "
            f"{source / package} (the files of the repository's dags_dir); nothing deployed"
        )


def git_commit(source: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _version_of(response: dict[str, Any], key: str) -> str:
    version = response.get("VersionId")
    if not version or version == "null":
        raise DagsError(
            f"the bucket returned no version for {key}: enable versioning on the bucket "
            "(the storage module does), deployments need object versions"
        )
    return str(version)


def publish(
    s3: Any,
    bucket: str,
    location: str,
    files: dict[str, Path],
    *,
    commit: str | None,
    rolled_back_to: int | None = None,
    copy_from: Deployment | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    previous: Deployment | Literal["latest"] | None = "latest",
) -> Published:
    """Uploads what differs from ``previous`` (the latest deployment unless given; or, for a
    rollback, copies the old versions back), deletes what is gone, and writes the next
    manifest, which fails if another deploy wrote that id first."""
    if previous == "latest":
        previous = history.latest(s3, bucket, location)
    before = previous.by_path() if previous else {}
    entries: list[FileEntry] = []
    uploaded: list[str] = []
    sources = copy_from.by_path() if copy_from else {}
    for relative in sorted(files or sources):
        old = before.get(relative)
        if copy_from is not None:
            wanted = sources[relative]
            if old is not None and old.sha256 == wanted.sha256:
                entries.append(old)
                continue
            response = s3.copy_object(
                Bucket=bucket,
                Key=file_key(location, relative),
                CopySource={
                    "Bucket": bucket,
                    "Key": file_key(location, relative),
                    "VersionId": wanted.version_id,
                },
            )
            version = _version_of(response, relative)
            entries.append(wanted.model_copy(update={"version_id": version}))
            uploaded.append(relative)
            continue
        path = files[relative]
        digest = sha256_of(path)
        if old is not None and old.sha256 == digest:
            entries.append(old)
            continue
        response = s3.put_object(
            Bucket=bucket,
            Key=file_key(location, relative),
            Body=path.read_bytes(),
            ChecksumAlgorithm="SHA256",
        )
        entries.append(
            FileEntry(
                path=relative,
                version_id=_version_of(response, relative),
                sha256=digest,
                size=path.stat().st_size,
            )
        )
        uploaded.append(relative)
        progress(f"uploaded {relative}")
    kept = {entry.path for entry in entries}
    deleted = sorted(set(before) - kept)
    for relative in deleted:
        s3.delete_object(Bucket=bucket, Key=file_key(location, relative))
        progress(f"deleted {relative}")
    deployment = Deployment(
        location=location,
        id=(previous.id if previous else 0) + 1,
        created_at=datetime.now(UTC),
        git_commit=commit,
        rolled_back_to=rolled_back_to,
        files=entries,
    )
    try:
        s3.put_object(
            Bucket=bucket,
            Key=deployment_key(location, deployment.id),
            Body=deployment.model_dump_json(indent=2).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise DagsError(
                f"another deploy to {location} took deployment {deployment.id} first; "
                "run the deploy again"
            ) from None
        raise
    return Published(deployment, uploaded, deleted, len(entries) - len(uploaded))
