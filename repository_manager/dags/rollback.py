"""``rollback-dags``: a new deployment holding an earlier one's files (bucket versioning keeps
every version a manifest names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repository_manager.dags import history
from repository_manager.dags.errors import DagsError
from repository_manager.dags.publish import Published, publish


def choose_target(ids: list[int], location: str, to: int | None, steps: int) -> int:
    if not ids:
        raise DagsError(f"{location} has no deployments to roll back; run `make deploy-dags`")
    current = ids[-1]
    if to is not None:
        if to not in ids:
            known = ", ".join(str(i) for i in ids[-5:])
            raise DagsError(f"{location} has no deployment {to} (latest: {known})")
        if to == current:
            raise DagsError(f"{location} already has deployment {to} as its latest")
        return to
    if steps < 1:
        raise DagsError("STEPS must be 1 or more")
    if steps >= len(ids):
        raise DagsError(f"{location} has {len(ids)} deployment(s): cannot go back {steps} step(s)")
    return ids[-1 - steps]


def rollback(
    s3: Any,
    bucket: str,
    location: str,
    *,
    to: int | None = None,
    steps: int = 1,
    progress: Callable[[str], None] = lambda _line: None,
) -> Published:
    target = choose_target(history.deployment_ids(s3, bucket, location), location, to, steps)
    old = history.get(s3, bucket, location, target)
    return publish(
        s3,
        bucket,
        location,
        {},
        commit=old.git_commit,
        rolled_back_to=target,
        copy_from=old,
        progress=progress,
    )
