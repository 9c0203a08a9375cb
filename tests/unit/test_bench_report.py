"""The benchmarks' pure parts: tables, ratios, targets, roles of processes and RSS peaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import bench_dev, run
from bench.report import Target, flatten, markdown_table, ratio, targets_table

MB = 2**20


def test_markdown_table_renders_none_floats_and_escapes_pipes() -> None:
    table = markdown_table(["a", "b"], [(1.234, None), ("x|y", True)])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1.23 | - |", "| x\\|y | yes |"]


def test_markdown_table_rejects_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="2 columns"):
        markdown_table(["a", "b"], [(1,)])


def test_ratio_and_targets() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
    assert Target("t", 1.5, 1.5).passed is True
    assert Target("t", 1.51, 1.5).passed is False
    assert Target("t", None, 1.5).passed is None
    table = targets_table([Target("start", 2.0, 1.5, "x"), Target("rss", 100.0, 512.0, "MB")])
    assert "| start | 2.00 x | ≤ 1.50 x | FAIL |" in table
    assert "| rss | 100.00 MB | ≤ 512.00 MB | pass |" in table


def test_flatten_dotted_keys() -> None:
    data = {"a": {"b": 1, "c": [1.0, 2.0]}, "t": [{"name": "x", "passed": True}]}
    assert flatten(data) == [
        ("a.b", 1),
        ("a.c", "1.00, 2.00"),
        ("t[0].name", "x"),
        ("t[0].passed", True),
    ]


@pytest.mark.parametrize(
    ("name", "cmdline", "role"),
    [
        (
            "python3.11",
            ["/v/bin/python3.11", "/v/bin/dagster", "code-server", "start"],
            "code-server",
        ),
        ("python3.11", ["/v/bin/python3.11", "-m", "dagster", "api", "grpc", "--x"], "code-server"),
        (
            "python3.11",
            ["/v/bin/python3.11", "-m", "dagster", "api", "execute_run", "{}"],
            "run worker",
        ),
        # dagster dev passes an instance ref mentioning code servers to its webserver and daemon
        (
            "python3.11",
            ["python3.11", "-m", "dagster_webserver", '{"code-server": 1}'],
            "webserver",
        ),
        ("python3.11", ["python3.11", "-m", "dagster._daemon", "run", "code-server"], "daemon"),
        ("python3.11", ["/v/bin/python3.11", "/v/bin/dagster-daemon", "run"], "daemon"),
        ("python3.11", ["/v/bin/python3.11", "/v/bin/dagster", "dev", "-m", "x"], "dagster dev"),
        ("python3.11", ["python", "-m", "dagster_ecs_emulator.server", "--port", "1"], "emulator"),
        ("python3.11", ["python", "-m", "ecs_local", "--endpoint", "u"], "ecs runtime"),
        ("postgres", ["postgres: checkpointer"], "postgres"),
        ("python3.11", ["python", "-c", "from multiprocessing.spawn import spawn_main"], None),
    ],
)
def test_own_role(name: str, cmdline: list[str], role: str | None) -> None:
    assert bench_dev.own_role(name, cmdline) == role


def test_roles_are_inherited_from_the_nearest_named_ancestor() -> None:
    procs = {
        10: (1, "python", ["python", "-m", "dagster", "code-server", "start"]),
        11: (10, "python", ["python", "-c", "spawn"]),
        12: (11, "sh", ["sh", "-c", "x"]),
        20: (1, "sh", ["sh"]),
    }
    assert bench_dev.assign_roles(procs) == {
        10: "code-server",
        11: "code-server",
        12: "code-server",
        20: "other",
    }


def test_peaks_take_the_largest_instantaneous_sum_per_role_and_overall() -> None:
    roles = {1: "webserver", 2: "postgres", 3: "postgres"}
    samples = [
        bench_dev.make_sample({1: 100 * MB, 2: 10 * MB, 3: 10 * MB}, roles),
        bench_dev.make_sample({1: 50 * MB, 2: 30 * MB, 3: 30 * MB}, roles),
    ]
    result = bench_dev.peaks(samples)
    assert result["by_role_mb"] == {"postgres": 60.0, "webserver": 100.0}
    assert result["total_mb"] == 120.0
    assert result["largest_process"] == {"role": "webserver", "rss_mb": 100.0}


def _dev_result(warm: float, reference: float, code_server_mb: float) -> dict[str, Any]:
    memory = {
        "after_start": {"by_role_mb": {"code-server": 200.0}, "total_mb": 200.0, "processes": 2},
        "during_run": {
            "status": "SUCCESS",
            "seconds": 5.0,
            "by_role_mb": {"code-server": code_server_mb, "emulator": 900.0},
            "total_mb": code_server_mb + 900.0,
            "largest_process": {"role": "emulator", "rss_mb": 900.0},
        },
    }
    result: dict[str, Any] = {
        "repetitions": 1,
        "start_s": {
            "cold_make_dev": None,
            "warm_fresh_state": {"median": warm, "runs": [warm]},
            "restart_kept_state": {"median": warm, "runs": [warm]},
            "dagster_dev": {"median": reference, "runs": [reference]},
        },
        "ratios": {
            "warm_vs_dagster_dev": ratio(warm, reference),
            "restart_vs_dagster_dev": ratio(warm, reference),
            "cold_vs_dagster_dev": None,
        },
        "stack_memory": memory,
        "dagster_dev_memory": memory,
        "notes": [],
    }
    result["targets"] = [t.as_dict() for t in bench_dev.evaluate(result)]
    return result


def test_dev_targets_pass_and_fail_on_given_figures() -> None:
    good = {t["name"]: t["passed"] for t in _dev_result(6.0, 5.0, 300.0)["targets"]}
    assert good == {
        "warm `dagster-ecs dev up` / `dagster dev` start": True,
        "code-server peak RSS": True,
        "whole stack peak RSS": True,
    }
    bad = {t["name"]: t["passed"] for t in _dev_result(8.0, 5.0, 700.0)["targets"]}
    assert bad == {
        "warm `dagster-ecs dev up` / `dagster dev` start": False,
        "code-server peak RSS": False,
        "whole stack peak RSS": False,
    }
    markdown = bench_dev.render(_dev_result(8.0, 5.0, 700.0))
    assert "| code-server | 200.00 | 700.00 | ≤ 512: FAIL |" in markdown
    assert "| warm / dagster dev | 1.60 |" in markdown


def test_readme_lists_every_module_with_its_command_and_figures(tmp_path: Path) -> None:
    manifest = {
        "dev": {
            "status": "ok",
            "command": "python -m bench.run --only dev",
            "date": "2026-11-01T00:00:00+00:00",
            "seconds": 12.0,
            "machine": {"nproc": 2, "ram_gb": 23.4, "python": "3.11.7"},
        },
        "infra": {"status": "failed", "error": "RuntimeError: boom"},
    }
    results = {"dev": {"targets": [{"passed": True}, {"passed": False}], "start_s": 1.5}}
    readme = run.render_readme(["dev", "ecs", "infra"], manifest, results)
    assert "`python -m bench.run --only dev`" in readme
    assert "2 CPU, 23.4 GB, Python 3.11.7" in readme
    assert "1/2 pass" in readme
    assert "| dev | start_s | 1.50 |" in readme
    assert "| ecs | not run |" in readme  # no results file in this call
    assert "| infra | failed | RuntimeError: boom |" in readme


def test_call_run_passes_quick_only_when_run_accepts_it() -> None:
    class Plain:
        @staticmethod
        def run() -> dict[str, Any]:
            return {"quick": None}

    class Quick:
        @staticmethod
        def run(quick: bool = False) -> dict[str, Any]:
            return {"quick": quick}

    assert run.call_run(Plain, quick=True) == {"quick": None}
    assert run.call_run(Quick, quick=True) == {"quick": True}
    assert run.call_run(Quick, quick=False) == {"quick": False}
