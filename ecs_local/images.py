"""The local image store: resolves a task definition's ``image`` to a local runtime root.

Without a Docker engine, an "image" is a directory tree with a ``bin/`` (a virtualenv or a
Python installation) plus optional defaults. The store is a JSON file (``--images``, the
``ECS_LOCAL_IMAGES`` variable, or ``<state-dir>/images.json``)::

    {"images": [
        {"pattern": "my-registry/etl:*", "root": "/opt/venvs/etl",
         "env": {"LANG": "C.UTF-8"}, "workingDirectory": "/srv/etl",
         "entryPoint": [], "command": ["python", "-m", "etl"]}
    ]}

``pattern`` is a shell glob matched against the full image reference; the first match wins.
Built-in entries follow the file's: the platform image (``dagster-ecs:*`` and its ECR form)
is the project's own virtualenv, ``python:*`` is the host Python.

Between the two, an ECR reference (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` or
``…@sha256:…``) is pulled from the emulated ECR with the task's execution role, as ECS does:
``BatchGetImage`` returns the image manifest, and a locally built image's manifest names its
tree in annotations (:data:`ROOT_ANNOTATION` and the others below).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_ANNOTATION = "dev.dagster-ecs.local.root"
WORKDIR_ANNOTATION = "dev.dagster-ecs.local.working-directory"
ENV_ANNOTATION = "dev.dagster-ecs.local.env"
ENTRYPOINT_ANNOTATION = "dev.dagster-ecs.local.entrypoint"
ECR_REFERENCE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_.-]+))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Image:
    pattern: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    entry_point: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    digest: str = ""
    """The registry digest of an image pulled from ECR; empty for a built-in image."""

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"


def builtin_images() -> list[Image]:
    project_venv = Path(sys.prefix)
    host_python = Path(sys.base_prefix)
    # The platform's own repository only: a repository's image (``<stack>-repos/<name>``)
    # that ECR does not hold is a pull error, not the platform's tree.
    ecr = "*.dkr.ecr.*.amazonaws.com/dagster-ecs"
    platform = ["dagster-ecs", "dagster-ecs:*", ecr, f"{ecr}:*", f"{ecr}@*"]
    python = [
        "python",
        "python:*",
        "public.ecr.aws/docker/library/python:*",
        "docker.io/library/python:*",
    ]
    return [Image(p, project_venv) for p in platform] + [Image(p, host_python) for p in python]


def _image(entry: dict[str, Any], source: Path) -> Image:
    if "pattern" not in entry or "root" not in entry:
        raise ValueError(f"{source}: every image needs 'pattern' and 'root': {entry}")
    root = Path(entry["root"]).expanduser()
    if not root.is_absolute():
        root = (source.parent / root).resolve()
    return Image(
        pattern=entry["pattern"],
        root=root,
        env=dict(entry.get("env", {})),
        working_directory=entry.get("workingDirectory"),
        entry_point=list(entry.get("entryPoint", [])),
        command=list(entry.get("command", [])),
    )


def image_from_manifest(reference: str, manifest: str, digest: str = "") -> Image | None:
    """The local tree a pulled manifest names, or None for an image built elsewhere."""
    try:
        annotations = json.loads(manifest).get("annotations") or {}
        if ROOT_ANNOTATION not in annotations:
            return None
        return Image(
            pattern=reference,
            root=Path(annotations[ROOT_ANNOTATION]),
            env=dict(json.loads(annotations.get(ENV_ANNOTATION) or "{}")),
            working_directory=annotations.get(WORKDIR_ANNOTATION),
            entry_point=list(json.loads(annotations.get(ENTRYPOINT_ANNOTATION) or "[]")),
            digest=digest,
        )
    except (ValueError, TypeError, AttributeError):
        return None


def pull_from_ecr(ecr: Any, reference: str) -> Image | None:
    """``BatchGetImage`` of an ECR reference; None when it is no ECR image of the emulator.
    A pull the execution role may not make fails the task, as on ECS (never a fallback to a
    built-in image)."""
    match = ECR_REFERENCE.match(reference)
    if match is None:
        return None
    image_id = (
        {"imageDigest": match["digest"]}
        if match["digest"]
        else {"imageTag": match["tag"] or "latest"}
    )
    try:
        found = ecr.batch_get_image(repositoryName=match["repository"], imageIds=[image_id])
    except Exception as error:
        response = getattr(error, "response", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403 or str(response.get("Error", {}).get("Code", "")).startswith("Access"):
            raise LookupError(
                "CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                f"failed to resolve ref {reference}: 403 Forbidden (the execution role may not "
                f"ecr:BatchGetImage on repository {match['repository']})"
            ) from None
        return None
    images = found.get("images") or []
    if not images:
        return None
    digest = (images[0].get("imageId") or {}).get("imageDigest") or ""
    return image_from_manifest(reference, images[0].get("imageManifest", ""), digest)


class ImageStore:
    def __init__(
        self, images: list[Image], source: Path | None = None, builtins: int | None = None
    ) -> None:
        self.images = images
        self.source = source
        self.builtins = len(images) - len(builtin_images()) if builtins is None else builtins

    @classmethod
    def load(cls, path: Path | None, state_dir: Path) -> ImageStore:
        candidates = [
            path,
            Path(os.environ["ECS_LOCAL_IMAGES"]) if os.environ.get("ECS_LOCAL_IMAGES") else None,
        ]
        candidates.append(state_dir / "images.json")
        for candidate in candidates:
            if candidate is not None and candidate.exists():
                data = json.loads(candidate.read_text())
                entries = [_image(e, candidate) for e in data.get("images", [])]
                return cls(entries + builtin_images(), candidate)
            if candidate is not None and candidate is path:
                raise FileNotFoundError(f"image store {candidate} does not exist")
        return cls(builtin_images(), None)

    def resolve(
        self, reference: str, pull: Callable[[str], Image | None] | None = None
    ) -> Image | None:
        """The store's entries first, then ``pull`` (the registry), then the built-in images."""
        for index, image in enumerate(self.images):
            if index == self.builtins and pull is not None and (pulled := pull(reference)):
                return pulled if pulled.bin_dir.is_dir() else None
            if fnmatch.fnmatchcase(reference, image.pattern):
                return image if image.bin_dir.is_dir() else None
        return None

    def pull_error(self, reference: str) -> str:
        where = self.source or "the built-in images"
        return (
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): "
            f"failed to resolve ref {reference}: not found in the local image store ({where})"
        )
