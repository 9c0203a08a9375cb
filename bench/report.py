"""Pure helpers shared by the benchmarks: markdown tables, flattening results, targets."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A limit a measured value must not exceed (``value <= limit``)."""

    name: str
    value: float | None
    limit: float
    unit: str = ""

    @property
    def passed(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "passed": self.passed,
        }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "not measured"}[passed]


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; ``None`` renders as ``-``, floats with two decimals."""
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, the table has {len(headers)} columns")
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    return markdown_table(
        ["target", "measured", "limit", "result"],
        [
            (
                t.name,
                f"{fmt(t.value)} {t.unit}".strip(),
                f"≤ {fmt(t.limit)} {t.unit}".strip(),
                verdict(t.passed),
            )
            for t in targets
        ],
    )


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts/lists as ``(dotted.key, scalar)`` pairs, in order."""
    if isinstance(data, Mapping):
        items: list[tuple[str, Any]] = []
        for key, value in data.items():
            items += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return items
    if isinstance(data, list) and any(isinstance(v, Mapping | list) for v in data):
        items = []
        for index, value in enumerate(data):
            items += flatten(value, f"{prefix}[{index}]")
        return items
    if isinstance(data, list):
        return [(prefix, ", ".join(fmt(v) for v in data))]
    return [(prefix, data)]
