"""Repository names: they become ECS service, Cloud Map and IAM role names.

The longest derived name is the role ``dagster-ecs-tf-cl-{name}`` (18 + name characters; IAM
allows 64), and the Cloud Map service ``cl-{name}`` must be a DNS label (63): 32 characters
leave room for both and for suffixes. Consecutive dashes are refused so that ``-`` can safely
separate parts of derived names (``cl-a--b`` would be ambiguous to read and to parse).
"""

from __future__ import annotations

import re

from repository_manager.repos.errors import RepoError

MAX_NAME_LENGTH = 32
RESERVED_NAMES = frozenset({"main", "shared", "system", "temp"})
NAME_RULE = (
    f"1-{MAX_NAME_LENGTH} lowercase letters, digits and single dashes, starting with a letter "
    "and not ending with a dash (e.g. my-pipeline)"
)
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def validate_repo_name(name: str) -> str:
    """Returns ``name`` if it is a valid repository name, else raises :class:`RepoError`."""
    if not isinstance(name, str):
        raise RepoError(f"repository name must be a string: a valid name is {NAME_RULE}")
    if name in RESERVED_NAMES:
        reserved = ", ".join(sorted(RESERVED_NAMES))
        raise RepoError(f"repository name {name!r} is reserved ({reserved}): choose another")
    if len(name) > MAX_NAME_LENGTH:
        raise RepoError(
            f"repository name {name!r} is {len(name)} characters long: a valid name is {NAME_RULE}"
        )
    if not _NAME.fullmatch(name):
        raise RepoError(f"invalid repository name {name!r}: a valid name is {NAME_RULE}")
    return name
