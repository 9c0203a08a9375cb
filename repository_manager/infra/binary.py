"""Which IaC binary to run: OpenTofu first, Terraform second, or the one ``TOFU`` names."""

from __future__ import annotations

import os
import shutil

from repository_manager.infra import InfraError

CANDIDATES = ("tofu", "terraform")


def find_binary(preferred: str | None = None) -> str:
    """Absolute path of ``preferred`` (or ``$TOFU``), else of ``tofu``, else of ``terraform``."""
    wanted = preferred or os.environ.get("TOFU")
    if wanted:
        path = shutil.which(wanted)
        if path is None:
            raise InfraError(
                f"TOFU={wanted} is not an executable on PATH: install it or unset TOFU"
            )
        return path
    for name in CANDIDATES:
        path = shutil.which(name)
        if path is not None:
            return path
    raise InfraError(
        "neither tofu nor terraform is on PATH: install OpenTofu (or Terraform >= 1.6) first"
    )


def unavailable_reason() -> str | None:
    """Why infrastructure commands cannot run here (no binary or no provider mirror), or None."""
    from repository_manager.infra.mirror import find_mirror

    try:
        find_binary()
        find_mirror()
    except InfraError as error:
        return str(error)
    return None
