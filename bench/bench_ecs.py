# ruff: noqa: E501 - result tables are long lines
"""ECS runtime benchmark: service create -> first task RUNNING, run_task -> process started,
and the runtime's idle memory/CPU with 20 one-task services, next to the bare emulator process.

``run() -> dict`` for bench/run.py; ``python bench/bench_ecs.py`` writes bench/results/ecs.{json,md}.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVICES = 20
SLEEPER = ["python", "-c", "import time; time.sleep(3600)"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Any, timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:
            pass
        time.sleep(interval)
    raise TimeoutError(what)


def _emulator(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_ecs_emulator.server", "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: requests.get(f"{url}/moto-api/", timeout=1).ok, 30, "emulator", 0.1)
    return proc, url


def _idle(pid: int, seconds: float = 10.0) -> tuple[float, float]:
    """(RSS MB, CPU % of one core) of a process over ``seconds``."""
    proc = psutil.Process(pid)
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    cpu = (after.user + after.system - before.user - before.system) / seconds * 100
    return proc.memory_info().rss / 2**20, cpu


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    bare, _bare_url = _emulator("--no-ecs-hook")
    emulator, url = _emulator()
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="ap-southeast-2",
    )
    state = tempfile.mkdtemp(prefix="bench-ecs-")
    runtime = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecs_local",
            "--endpoint",
            url,
            "--state-dir",
            state,
            "--metadata-port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert runtime.stdout is not None
    runtime.stdout.readline()
    session = boto3.session.Session("bench", "bench", region_name="ap-southeast-2")
    ecs, ec2 = session.client("ecs", endpoint_url=url), session.client("ec2", endpoint_url=url)
    try:
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
        network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        ecs.create_cluster(clusterName="bench")
        ecs.register_task_definition(
            family="sleeper",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": "python:3.11", "command": SLEEPER}],
        )
        # The process's own start time, for reference: the same command started directly.
        own = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            own.append(time.perf_counter() - t0)

        create_to_running = []
        for index in range(SERVICES):
            name = f"s{index}"
            t0 = time.perf_counter()
            ecs.create_service(
                cluster="bench",
                serviceName=name,
                taskDefinition="sleeper",
                desiredCount=1,
                launchType="FARGATE",
                networkConfiguration=network,
            )

            def running(name: str = name) -> bool:
                arns = ecs.list_tasks(cluster="bench", serviceName=name)["taskArns"]
                tasks = ecs.describe_tasks(cluster="bench", tasks=arns)["tasks"] if arns else []
                return any(t["lastStatus"] == "RUNNING" for t in tasks)

            _wait(running, 30, f"{name} RUNNING")
            create_to_running.append(time.perf_counter() - t0)

        run_task_started = []
        for _ in range(10):
            t0 = time.perf_counter()
            arn = ecs.run_task(
                cluster="bench",
                taskDefinition="sleeper",
                launchType="FARGATE",
                networkConfiguration=network,
            )["tasks"][0]["taskArn"]
            _wait(
                lambda arn=arn: ecs.describe_tasks(cluster="bench", tasks=[arn])["tasks"][0][
                    "containers"
                ][0].get("runtimeId"),
                30,
                "run_task started",
            )
            run_task_started.append(time.perf_counter() - t0)
            ecs.stop_task(cluster="bench", task=arn)

        time.sleep(3)  # let the stops settle before measuring idle
        runtime_rss, runtime_cpu = _idle(runtime.pid)
        hooked_rss, hooked_cpu = _idle(emulator.pid, 5)
        bare_rss, bare_cpu = _idle(bare.pid, 5)
        result = {
            "services": SERVICES,
            "create_to_running_s": {
                "p50": statistics.median(create_to_running),
                "p95": _pct(create_to_running, 0.95),
            },
            "run_task_to_process_s": {
                "p50": statistics.median(run_task_started),
                "p95": _pct(run_task_started, 0.95),
            },
            "process_own_start_s": statistics.median(own),
            "runtime_idle": {"rss_mb": runtime_rss, "cpu_pct_of_core": runtime_cpu},
            "emulator_with_hook_idle": {"rss_mb": hooked_rss, "cpu_pct_of_core": hooked_cpu},
            "bare_emulator_idle": {"rss_mb": bare_rss, "cpu_pct_of_core": bare_cpu},
            "ratios": {
                "runtime_rss_vs_bare_emulator": runtime_rss / bare_rss,
                "hooked_emulator_rss_vs_bare": hooked_rss / bare_rss,
            },
            "targets": {
                "create_to_running_under_2s_plus_start": statistics.median(create_to_running)
                < 2 + statistics.median(own),
                "runtime_rss_under_100mb": runtime_rss < 100,
                "runtime_cpu_under_2pct": runtime_cpu < 2,
            },
        }
        for index in range(SERVICES):
            ecs.delete_service(cluster="bench", service=f"s{index}", force=True)
        _wait(lambda: not ecs.list_tasks(cluster="bench")["taskArns"], 60, "drain", 0.2)
        _wait(
            lambda: all(
                t["lastStatus"] == "STOPPED"
                for t in ecs.describe_tasks(
                    cluster="bench",
                    tasks=ecs.list_tasks(cluster="bench", desiredStatus="STOPPED")["taskArns"],
                )["tasks"]
            ),
            60,
            "all stopped",
            0.2,
        )
        return result
    finally:
        for proc in (runtime, emulator, bare):
            proc.terminate()
            proc.wait(timeout=10)


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ecs.json").write_text(json.dumps(result, indent=2) + "\n")
    c, r = result["create_to_running_s"], result["run_task_to_process_s"]
    rt, hk, bare = (
        result["runtime_idle"],
        result["emulator_with_hook_idle"],
        result["bare_emulator_idle"],
    )
    lines = [
        "# ECS runtime benchmark",
        "",
        f"{result['services']} services of 1 task each (host Python `time.sleep`), 2-core machine.",
        "",
        "| measure | value | reference |",
        "|---|---|---|",
        f"| create_service -> first task RUNNING p50 / p95 | {c['p50']:.3f} s / {c['p95']:.3f} s | target < 2 s + process start ({result['process_own_start_s']:.3f} s) |",
        f"| run_task -> process started p50 / p95 | {r['p50']:.3f} s / {r['p95']:.3f} s | |",
        f"| runtime idle RSS | {rt['rss_mb']:.1f} MB | bare emulator {bare['rss_mb']:.1f} MB (ratio {result['ratios']['runtime_rss_vs_bare_emulator']:.2f}) |",
        f"| runtime idle CPU | {rt['cpu_pct_of_core']:.2f} % of a core | bare emulator {bare['cpu_pct_of_core']:.2f} % |",
        f"| emulator with hook, idle | {hk['rss_mb']:.1f} MB, {hk['cpu_pct_of_core']:.2f} % | ratio RSS {result['ratios']['hooked_emulator_rss_vs_bare']:.2f} vs bare |",
    ]
    lines += [
        "",
        "The bare emulator (`--no-ecs-hook`) is measured idle without having served requests; the",
        "hooked emulator holds this run's ECS/EC2 state and loaded backends, so most of its extra",
        "RSS is moto's state, not the hook. The runtime's task processes are not counted.",
    ]
    (RESULTS / "ecs.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    outcome = run()
    write(outcome)
    print(json.dumps(outcome, indent=2))
