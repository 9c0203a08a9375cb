from __future__ import annotations

from collections.abc import Sequence


class RepoError(RuntimeError):
    """One actionable line; ``details`` holds up to a few extra lines (e.g. a traceback's tail)
    that a CLI may show under it."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(one_line(message))
        self.details: tuple[str, ...] = tuple(details)


class NotFound(RepoError):
    """What the command names does not exist (HTTP 404)."""


class Conflict(RepoError):
    """It exists already, or another command is changing it (HTTP 409)."""


def one_line(text: str) -> str:
    """Collapses whitespace (newlines included) so a message always prints as one line."""
    return " ".join(text.split())
