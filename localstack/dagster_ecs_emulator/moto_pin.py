"""The version guard of every moto patch (``shims``, ``ecs_shims`` and the ECS hook's wrap of
RunTask): each names a gap of one moto release, so the emulator refuses to
start on any other. The release is the project's own pin in pyproject.toml, read from the
installed distribution, so the pin is written once."""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import Requirement


def pinned_moto() -> str:
    for line in importlib.metadata.requires("dagster-ecs") or []:
        requirement = Requirement(line)
        if requirement.name == "moto":
            (spec,) = requirement.specifier
            return spec.version
    raise RuntimeError("dagster-ecs does not pin moto in pyproject.toml")


def require_pinned_moto() -> None:
    import moto

    pinned = pinned_moto()
    if moto.__version__ != pinned:
        raise RuntimeError(
            f"the emulator's moto patches target moto {pinned}, found {moto.__version__}: "
            "re-check each shim (tests/integration/test_*shims.py) against the new version, "
            "then change the pin in pyproject.toml"
        )
