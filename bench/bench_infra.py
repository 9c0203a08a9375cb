"""Apply, plan-after-apply and destroy times of the full stack against the emulator.

Run alone with ``python -m bench.bench_infra`` or ``python bench/bench_infra.py``; ``bench/run.py``
calls :func:`run`. Starts its own emulator on a free port, works in a temp dir, writes
``bench/results/infra.json`` and ``bench/results/infra.md``. Targets: apply < 180 s, plan < 15 s.
Provider waits (RDS, ALB, ...) are reported apart: they are the emulator's simulated creation
times, not work the modules do.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from repository_manager.infra.runner import InfraRunner  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGETS = {"apply": 180.0, "plan": 15.0}
WAIT_THRESHOLD_S = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_ecs_emulator.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/moto-api/", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("emulator did not start within 30 s")


def _waits(durations: dict[str, float]) -> dict[str, float]:
    return {
        k: v for k, v in sorted(durations.items(), key=lambda kv: -kv[1]) if v >= WAIT_THRESHOLD_S
    }


def run() -> dict[str, Any]:
    proc, url = _start_emulator()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-infra-") as tmp:
            runner = InfraRunner(
                "local",
                work_dir=Path(tmp),
                emulator_url=url,
                stream=False,
                variables={"code_locations": {"main": {}, "sales": {}}},
            )
            init = runner.init()
            apply = runner.apply()
            plan = runner.plan()
            destroy = runner.destroy()
            resources = sum(
                1 for line in apply.output.splitlines() if ": Creation complete after" in line
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result: dict[str, Any] = {
        "binary": Path(runner.binary).name,
        "resources": resources,
        "autoscaling_applied": runner.autoscaling_note is None,
        "seconds": {
            "init": round(init.seconds, 1),
            "apply": round(apply.seconds, 1),
            "plan": round(plan.seconds, 1),
            "destroy": round(destroy.seconds, 1),
        },
        "plan_has_changes": plan.returncode == 2,
        "targets_s": TARGETS,
        "ratio_to_target": {
            "apply": round(apply.seconds / TARGETS["apply"], 2),
            "plan": round(plan.seconds / TARGETS["plan"], 2),
        },
        "provider_waits_s": {
            "apply": _waits(apply.resource_seconds),
            "destroy": _waits(destroy.resource_seconds),
        },
    }
    write(result)
    return result


def markdown(result: dict[str, Any]) -> str:
    s, r = result["seconds"], result["ratio_to_target"]
    lines = [
        "# Infrastructure against the emulator",
        "",
        f"Full stack ({result['resources']} resources, 2 code locations) with "
        f"`{result['binary']}`; autoscaling applied: {result['autoscaling_applied']}.",
        "",
        "| step | seconds | target | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| init (filesystem mirror) | {s['init']} | | |",
        f"| apply | {s['apply']} | {TARGETS['apply']:.0f} | {r['apply']} |",
        f"| plan after apply | {s['plan']} | {TARGETS['plan']:.0f} | {r['plan']} |",
        f"| destroy | {s['destroy']} | | |",
        "",
        f"Plan after apply reports changes: {result['plan_has_changes']}.",
        "",
        f"Provider waits (resources taking >= {WAIT_THRESHOLD_S:.0f} s, in parallel with others):",
        "",
        "| step | resource | seconds |",
        "| --- | --- | ---: |",
    ]
    for step, waits in result["provider_waits_s"].items():
        lines += [f"| {step} | `{name}` | {secs:.0f} |" for name, secs in waits.items()]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "infra.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "infra.md").write_text(markdown(result))


if __name__ == "__main__":
    print(markdown(run()))
