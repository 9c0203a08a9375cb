"""Adding several repositories in one operation (a restore brings back every repository a
snapshot holds): their clones, image builds and import checks run side by side, their AWS
resources are created one at a time (each new location's gRPC port is chosen from what the
services already use), and one wait covers every location becoming LOADED. Either all of
them are added, or none is: a failure rolls back what each had created."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

from repository_manager.repos.config import RepoConfig
from repository_manager.repos.manager import (
    RepoTarget,
    build_and_check,
    register_location,
    validate_new,
    wait_loaded,
)
from repository_manager.repos.resources import Progress, Undo

BUILD_WORKERS = 2
"""Builds at once: an import check keeps a core busy, and a laptop has few to spare."""


def add_configs(
    target: RepoTarget, configs: list[RepoConfig], progress: Progress
) -> list[RepoConfig]:
    """Registers every config as a code location, each built at its ``commit`` (or its branch's
    head), in order: a config that reads from another of the batch (``read_from``) comes after
    it. Returns the registered configs."""
    names = {config.name for config in configs}
    for config in configs:
        elsewhere = [other for other in config.read_from if other not in names]
        validate_new(target, config.model_copy(update={"read_from": elsewhere}))
    undos = {config.name: Undo() for config in configs}

    def build(config: RepoConfig) -> RepoConfig:
        said = (lambda line: progress(f"{config.name}: {line}")) if len(configs) > 1 else progress
        return build_and_check(target, config, undos[config.name], said, config.commit)

    with contextlib.ExitStack() as locks:
        for config in configs:
            locks.enter_context(target.registry.lock(config.name, "add-repo"))
        try:
            with ThreadPoolExecutor(max_workers=BUILD_WORKERS) as pool:
                built = list(pool.map(build, configs))
            registered = [
                register_location(target, config, undos[config.name], progress) for config in built
            ]
            for config in registered:
                wait_loaded(target, config.name, progress)
        except BaseException:
            for config in reversed(configs):
                failed = undos[config.name].run(progress)
                if failed:
                    progress(f"could not roll back {config.name}: {'; '.join(failed)}")
            raise
    return registered
