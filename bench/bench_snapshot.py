"""Snapshot and restore of the default platform plus five repositories, against a plain
`make dev` in the same run.

- **plain**: `dev up` on a new state folder until the UI answers (the reference);
- **snapshot**: `dagster-ecs snapshot` of that stack once five repositories are added;
- **restore**: `dev up --snapshot` on another new state folder: the stack, then every
  repository rebuilt at its recorded commit, until every location is LOADED.

Targets (the issue): snapshot < 30 s, restore under twice plain. ``python -m bench.run --only
snapshot``. Writes bench/results/snapshot.json and snapshot.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_repos import CLI, RESULTS, BenchStack, make_repo

REPOSITORIES = 5
SNAPSHOT_TARGET_S = 30.0
RESTORE_TARGET_RATIO = 2.0


def _timed(stack: BenchStack, *args: str) -> float:
    began = time.monotonic()
    stack.cli(*args)
    return time.monotonic() - began


def run(quick: bool = False) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dagster-ecs-bench-snapshot-"))
    cache = work / "uv-cache"
    source, restored = BenchStack(work / "source", cache), BenchStack(work / "restored", cache)
    count = 2 if quick else REPOSITORIES
    load_before = os.getloadavg()
    try:
        plain = _timed(source, "dev", "up")
        for index in range(count):
            name = f"r{index}"
            source.add(make_repo(work / "git" / name, name), name)
        out = work / "snapshot.json"
        snapshot = _timed(source, "snapshot", "--env", "dev", "--out", str(out))
        size = out.stat().st_size
        source.cli("dev", "stop")
        restore = _timed(restored, "dev", "up", "--snapshot", str(out))
        statuses = restored.api.location_statuses()
        if sorted(statuses) != sorted(["main", *(f"r{i}" for i in range(count))]) or any(
            s != "LOADED" for s in statuses.values()
        ):
            raise RuntimeError(f"restored locations: {statuses}")
    finally:
        for stack in (source, restored):
            subprocess.run([CLI, "dev", "stop"], env=stack.env, capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "repositories": count,
        "plain_dev_up_s": plain,
        "snapshot_s": snapshot,
        "snapshot_bytes": size,
        "restore_s": restore,
        "ratios": {"restore_vs_plain": restore / plain},
        "targets": {"snapshot_s": SNAPSHOT_TARGET_S, "restore_vs_plain": RESTORE_TARGET_RATIO},
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    write(result)
    return result


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "snapshot.json").write_text(json.dumps(result, indent=2) + "\n")
    ratio = result["ratios"]["restore_vs_plain"]
    snap_pass = "pass" if result["snapshot_s"] < SNAPSHOT_TARGET_S else "**missed**"
    restore_pass = "pass" if ratio < RESTORE_TARGET_RATIO else "**missed**"
    load = result["load_average"]
    lines = [
        "# Snapshot and restore benchmark",
        "",
        f"`python -m bench.run --only snapshot`: the default platform plus {result['repositories']}"
        " repositories, 2-core machine, load average "
        f"{load['before'][0]:.1f} before / {load['after'][0]:.1f} after.",
        "",
        "| measure | value | reference | target |",
        "|---|---|---|---|",
        f"| plain `make dev` (new state folder → UI up) | {result['plain_dev_up_s']:.1f} s | | |",
        f"| `make snapshot` ({result['snapshot_bytes'] / 1024:.0f} KiB) | "
        f"{result['snapshot_s']:.1f} s | | < 30 s {snap_pass} |",
        f"| `make dev SNAPSHOT=…` (new state folder → every location LOADED) | "
        f"{result['restore_s']:.1f} s | plain `make dev`: ratio {ratio:.2f} | < 2x plain "
        f"{restore_pass} |",
        "",
        "Restore rebuilds each repository from its recorded commit: clones, images from the",
        "warm uv cache and import checks two at a time, every AWS resource one at a time, then",
        "one wait until every location is LOADED (bench/results/repos.md has one add-repo).",
    ]
    (RESULTS / "snapshot.md").write_text("\n".join(lines) + "\n")
