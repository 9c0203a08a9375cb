"""Does a built image import the repository's definitions? Asked in a subprocess of the image's
own python, with the checkout as working directory, as the code server would."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from repository_manager.repos.build import BuiltImage
from repository_manager.repos.definitions import DefinitionsTarget
from repository_manager.repos.errors import RepoError, one_line

CHECKER = Path(__file__).with_name("_check_target.py")
_MAX_MESSAGE = 300


class DefinitionsSummary(BaseModel):
    attribute: str
    assets: list[str]
    jobs: list[str]


def check_definitions(
    image: BuiltImage,
    target: DefinitionsTarget,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> DefinitionsSummary:
    """The loaded definitions' summary, or :class:`RepoError` naming the failure's file:line."""
    checkout = image.working_directory
    what = f"{target.kind.replace('_', ' ')} {target.value}"
    base = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    with tempfile.TemporaryDirectory(prefix="repo-check-") as scratch:
        result_file = Path(scratch) / "result.json"
        # -P: the checker's folder (this package) must not shadow the repository's modules.
        args = [str(image.python), "-P", str(CHECKER), target.kind, target.value]
        args += [str(checkout / target.working_directory), str(checkout), str(result_file)]
        try:
            proc = subprocess.run(
                args,
                cwd=checkout,
                env={**base, **image.env, **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise RepoError(
                f"loading {what} did not finish within {timeout:g}s: does it do work at import "
                "time (network, large files)? move that into assets or resources"
            ) from None
        if not result_file.is_file():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RepoError(f"loading {what} crashed the interpreter: {one_line(last)}")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    if result["ok"]:
        return DefinitionsSummary.model_validate(result)
    message = one_line(result["message"])
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    where = f" at {result['file']}:{result['line']}" if result.get("file") else ""
    raise RepoError(
        f"loading {what} failed{where}: {result['type']}: {message}", result.get("tail", [])
    )
