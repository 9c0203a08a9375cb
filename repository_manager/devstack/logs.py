"""Follows the local stack's log files, prefixed by component, like ``docker compose logs -f``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path


def _tail(path: Path, lines: int) -> tuple[list[str], int]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    text = data.decode(errors="replace").splitlines()
    return text[-lines:] if lines else [], len(data)


def follow(paths: dict[str, Path], *, lines: int, follow: bool) -> Iterator[tuple[str, str]]:
    """Yields ``(component, line)``: the last ``lines`` of each file, then new lines as written.

    The files are read when this is called, not on the first ``next``: whatever is written
    afterwards counts as new.
    """
    offsets: dict[str, int] = {}
    history: list[tuple[str, str]] = []
    for name, path in paths.items():
        recent, offsets[name] = _tail(path, lines)
        history += [(name, line) for line in recent]
    return _stream(paths, history, offsets, follow)


def _stream(
    paths: dict[str, Path],
    history: list[tuple[str, str]],
    offsets: dict[str, int],
    follow: bool,
) -> Iterator[tuple[str, str]]:
    yield from history
    partial: dict[str, str] = dict.fromkeys(paths, "")
    while follow:
        grew = False
        for name, path in paths.items():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size < offsets[name]:
                offsets[name] = 0
            if size == offsets[name]:
                continue
            with open(path, "rb") as handle:
                handle.seek(offsets[name])
                chunk = handle.read()
            offsets[name] += len(chunk)
            grew = True
            text = partial[name] + chunk.decode(errors="replace")
            *complete, partial[name] = text.split("\n")
            for line in complete:
                yield name, line
        if not grew:
            time.sleep(0.25)
