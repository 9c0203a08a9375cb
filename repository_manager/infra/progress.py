"""What a person sees of a tofu run: the few lines that matter, and a short summary.

The whole output goes to a log file (its path is printed); the terminal gets each resource
that finished, the plan's list of changes and the closing counts.
"""

from __future__ import annotations

import re
from pathlib import Path

_DONE = re.compile(
    r"^(?P<address>\S+): (?P<what>Creation|Destruction|Modifications) complete after (?P<d>\S+)"
)
_PLANNED = re.compile(r"^\s*# (?P<address>\S+) (?P<what>will be|must be) (?P<rest>.+)$")
_COUNTS = re.compile(
    r"^(?:Apply|Destroy) complete! Resources: (?P<counts>.+)\.$|^Plan: (?P<plan>.+)\.$"
)
_SYMBOL = {"Creation": "+", "Destruction": "-", "Modifications": "~"}


def visible(line: str) -> str | None:
    """The line to show for one line of tofu's output, or None to keep it in the log only."""
    text = line.strip(" │╷╵\n")
    if match := _DONE.match(text):
        return f"  {_SYMBOL[match['what']]} {match['address']} ({match['d']})"
    if match := _PLANNED.match(text):
        return f"  # {match['address']} {match['what']} {match['rest']}"
    if _COUNTS.match(text) or text.startswith("No changes.") or text.startswith("Error:"):
        return text
    return None


def counts(output: str) -> str | None:
    """``3 added, 0 changed, 0 destroyed`` (apply/destroy) or the plan's line, if present."""
    for line in reversed(output.splitlines()):
        if match := _COUNTS.match(line.strip()):
            return match["counts"] or match["plan"]
        if line.strip().startswith("No changes."):
            return "no changes"
    return None


def log_file(work_dir: Path, verb: str, stamp: str) -> Path:
    folder = work_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{verb}-{stamp}.log"
