"""``make bench``: runs every benchmark module's ``run() -> dict`` and writes
bench/results/README.md, one table over all modules' results files.

``python -m bench.run [--only NAME ...] [--quick]``. A module that fails is reported and the
runner goes on with the others, then exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.report import flatten, fmt, markdown_table

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
MANIFEST = RESULTS / "runs.json"
QUICK_ENV = "DAGSTER_ECS_BENCH_QUICK"


def discover() -> list[str]:
    """Benchmark names: ``bench/bench_<name>.py`` → ``<name>``."""
    return sorted(path.stem.removeprefix("bench_") for path in BENCH.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def call_run(module: Any, quick: bool) -> dict[str, Any]:
    """Calls ``module.run``, passing ``quick`` only if its signature takes it (or ``**kwargs``)."""
    params = inspect.signature(module.run).parameters
    takes_quick = "quick" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    result = module.run(quick=True) if quick and takes_quick else module.run()
    if not isinstance(result, dict):
        raise TypeError(f"run() returned {type(result).__name__}, expected a dict")
    return result


def ensure_written(name: str, module: Any, result: dict[str, Any], since: float) -> None:
    """Modules write their own results; if one only wrote them in its ``__main__`` path,
    use its ``write(result)``, else store the returned dict as JSON."""
    path = RESULTS / f"{name}.json"
    if path.exists() and path.stat().st_mtime >= since:
        return
    writer = getattr(module, "write", None)
    if callable(writer):
        writer(result)
    if not path.exists() or path.stat().st_mtime < since:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Runs one benchmark; returns its manifest entry (status, seconds, error)."""
    began, wall = time.monotonic(), time.time()
    entry: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        module = importlib.import_module(f"bench.bench_{name}")
        result = call_run(module, quick)
        ensure_written(name, module, result, wall)
        entry["status"] = "ok"
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        traceback.print_exc()
        entry["status"] = "failed"
        entry["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    entry["seconds"] = round(time.monotonic() - began, 1)
    return entry


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def target_summary(result: Mapping[str, Any]) -> str:
    """``2/3 pass`` from a result's ``targets``: a list of ``{passed}`` or a name → bool map."""
    targets = result.get("targets")
    if isinstance(targets, Mapping):
        verdicts = [v for v in targets.values() if isinstance(v, bool)]
    elif isinstance(targets, list):
        verdicts = [
            t["passed"]
            for t in targets
            if isinstance(t, Mapping) and isinstance(t.get("passed"), bool)
        ]
    else:
        return "-"
    return f"{sum(verdicts)}/{len(verdicts)} pass" if verdicts else "-"


def render_readme(
    names: Sequence[str], manifest: Mapping[str, Any], results: Mapping[str, Any]
) -> str:
    """README.md: per module how/when it ran, then every module's figures in one table."""
    summary_rows = []
    figure_rows: list[tuple[Any, ...]] = []
    for name in names:
        entry = manifest.get(name, {})
        result = results.get(name)
        files = [f"[{name}.{ext}]({name}.{ext})" for ext in ("json", "md")]
        where = entry.get("machine", {})
        if not entry and result is not None:
            path = RESULTS / f"{name}.json"
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.exists() else None
            entry = {
                "status": "not run by bench.run",
                "date": stamp.isoformat(timespec="seconds") if stamp else "-",
            }
        summary_rows.append(
            (
                name,
                entry.get("status", "not run" if result is None else "unknown"),
                entry.get("error", ""),
                f"`{entry['command']}`" if "command" in entry else "-",
                entry.get("date", "-"),
                entry.get("seconds"),
                f"{where.get('nproc', '-')} CPU, {where.get('ram_gb', '-')} GB, "
                f"Python {where.get('python', '-')}"
                if where
                else "-",
                target_summary(result) if result is not None else "-",
                " ".join(files) if result is not None else "-",
            )
        )
        if result is not None:
            for key, value in flatten(result):
                if key.startswith(("notes", "targets")) and not isinstance(value, bool | float):
                    continue
                figure_rows.append((name, key, value))
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `make bench` (`python -m bench.run`). Each module writes its own "
            "`<name>.json` and `<name>.md`; this page lists how each was produced and all their "
            "figures. Read the per-module pages for units, targets and notes.",
            "",
            markdown_table(
                [
                    "module",
                    "status",
                    "error",
                    "command",
                    "date (UTC)",
                    "seconds",
                    "machine",
                    "targets",
                    "files",
                ],
                summary_rows,
            ),
            "",
            "## All figures",
            "",
            markdown_table(["module", "measure", "value"], figure_rows),
            "",
        ]
    )


def read_results(names: Sequence[str]) -> dict[str, Any]:
    found = {}
    for name in names:
        path = RESULTS / f"{name}.json"
        if path.exists():
            try:
                found[name] = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue
    return found


def write_readme(names: Sequence[str], manifest: Mapping[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "README.md").write_text(render_readme(names, manifest, read_results(names)))


def main(argv: Sequence[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(description="Run the benchmarks and write bench/results/.")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help=f"one of {', '.join(available)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, skip the slowest parts"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="only rewrite README.md from the results files"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        write_readme(available, load_manifest())
        return 0
    unknown = sorted(set(args.only or []) - set(available))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(available)}")
    selected = [name for name in available if not args.only or name in args.only]
    if args.quick:
        os.environ[QUICK_ENV] = "1"

    command = shlex.join(["python", "-m", "bench.run", *(argv or sys.argv[1:])])
    facts = machine()
    manifest = load_manifest()
    failed = []
    for name in selected:
        print(f"== bench {name}", file=sys.stderr, flush=True)
        entry = run_one(name, args.quick)
        entry.update(command=command, machine=facts)
        manifest[name] = entry
        if entry["status"] != "ok":
            failed.append(name)
        print(
            f"== bench {name}: {entry['status']} in {fmt(entry['seconds'], 1)} s", file=sys.stderr
        )

    RESULTS.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    write_readme(available, manifest)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
