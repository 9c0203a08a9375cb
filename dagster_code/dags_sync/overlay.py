"""A repository location's synced DAG tree standing in for the folder of its git checkout.

config.yml's ``dags_dir`` names a top-level package folder of the checkout (``my_pipeline``);
its deployments in ``dags/{name}/`` hold that folder's files. The repository's own definitions
(``module:my_pipeline.definitions`` or ``file:my_pipeline/definitions.py``) then load from the
synced tree: a folder holding one symlink named like the package, first on ``sys.path``, makes
``import my_pipeline`` resolve to the tree, and a file target inside the folder is read from it.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagster_code.dags_sync.manifest import IMAGE_DEPLOYMENT, IMAGE_DIR_ENV, MANIFEST_FILE
from dagster_code.dags_sync.pinned import pinned_tree


@dataclass(frozen=True)
class Overlay:
    tree: Path
    replaces: Path
    deployment: str


def deployment_of(tree: Path) -> str:
    manifest = tree / MANIFEST_FILE
    if not manifest.is_file():
        return IMAGE_DEPLOYMENT
    deployment_id = json.loads(manifest.read_text()).get("id", 0)
    return str(deployment_id) if deployment_id else IMAGE_DEPLOYMENT


def repository_overlay(env: Mapping[str, str], cwd: Path | None = None) -> Overlay | None:
    """The run's pinned deployment, else the tree the sync agent serves; None when the
    checkout's own files are what to load (no deployment yet)."""
    base = cwd or Path.cwd()
    dags_dir, image_dir = env.get("DAGS_DIR"), env.get(IMAGE_DIR_ENV)
    tree = pinned_tree(env)
    if tree is None:
        if not (dags_dir and image_dir):
            return None
        tree = (base / dags_dir).resolve()
    deployment = deployment_of(tree)
    replaced = image_dir or dags_dir
    if deployment == IMAGE_DEPLOYMENT or not replaced:
        return None
    return Overlay(tree, (base / replaced).resolve(), deployment)


def apply(overlay: Overlay) -> None:
    shim = overlay.tree.parent / f".import-{overlay.tree.name}"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / overlay.replaces.name
    with contextlib.suppress(FileExistsError):
        link.symlink_to(overlay.tree, target_is_directory=True)
    if str(shim) not in sys.path:
        sys.path.insert(0, str(shim))


def overlaid_target(target: str, overlay: Overlay, cwd: Path | None = None) -> str:
    """``file:`` targets inside the replaced folder read from the tree; others are unchanged."""
    kind, _, value = target.partition(":")
    if kind != "file":
        return target
    path = ((cwd or Path.cwd()) / value).resolve()
    try:
        relative = path.relative_to(overlay.replaces)
    except ValueError:
        return target
    return f"file:{overlay.tree / relative}"
