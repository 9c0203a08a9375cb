"""From one environment's names to another's: what a restore writes is the snapshot's value
with the snapshot's account, region, stack, bucket and endpoint replaced by the local ones, and
each service's ports by the local service's (the same placeholders parity compares by)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from repository_manager.snapshot.model import Snapshot
from repository_manager.snapshot.parity import identifiers


@dataclass
class Translator:
    pairs: list[tuple[str, str]]
    """``(snapshot's text, local text)``, longest first, applied in one pass."""
    extra: dict[str, str] = field(default_factory=dict)
    """Exact names found while restoring (a secret's ARN, whose random suffix is per account)."""

    @classmethod
    def between(cls, snapshot: Snapshot, local: Snapshot) -> Translator:
        theirs = dict((p, v) for v, p in identifiers(snapshot))
        ours = dict((p, v) for v, p in identifiers(local))
        pairs = [(theirs[p], ours[p]) for p in theirs if p in ours and theirs[p] != ours[p]]
        return cls(pairs)

    def text(self, value: str, ports: dict[int, int] | None = None) -> str:
        found = sorted([*self.pairs, *self.extra.items()], key=lambda p: len(p[0]), reverse=True)
        if found:
            pattern = re.compile("|".join(re.escape(old) for old, _ in found))
            table = dict(found)
            value = pattern.sub(lambda m: table[m.group(0)], value)
        if ports:
            value = re.sub(
                r"(?<!\d)(\d{2,5})(?!\d)",
                lambda m: str(ports.get(int(m.group(1)), m.group(1))),
                value,
            )
        return value

    def value(self, value: Any, ports: dict[int, int] | None = None) -> Any:
        """A JSON value (a policy document, a health check) translated in every string."""
        return json.loads(self.text(json.dumps(value), ports))


def port_map(theirs: list[int], ours: list[int]) -> dict[int, int]:
    """The snapshot service's ports to the local service's, in order, where both have as many;
    none where they differ (a port is not guessed)."""
    if len(theirs) != len(ours):
        return {}
    return {a: b for a, b in zip(sorted(theirs), sorted(ours), strict=True) if a != b}
