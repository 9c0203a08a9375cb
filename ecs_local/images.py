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
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Image:
    pattern: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    entry_point: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"


def builtin_images() -> list[Image]:
    project_venv = Path(sys.prefix)
    host_python = Path(sys.base_prefix)
    platform = ["dagster-ecs", "dagster-ecs:*", "*.dkr.ecr.*.amazonaws.com/dagster-ecs*"]
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


class ImageStore:
    def __init__(self, images: list[Image], source: Path | None = None) -> None:
        self.images = images
        self.source = source

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

    def resolve(self, reference: str) -> Image | None:
        for image in self.images:
            if fnmatch.fnmatchcase(reference, image.pattern):
                return image if image.bin_dir.is_dir() else None
        return None

    def pull_error(self, reference: str) -> str:
        where = self.source or "the built-in images"
        return (
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): "
            f"failed to resolve ref {reference}: not found in the local image store ({where})"
        )
