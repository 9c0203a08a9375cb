"""add-repo → location LOADED, against the anchors' way of adding a location, on one stack.

- **cold**: the first repository, with uv's cache empty (every wheel downloaded);
- **warm**: a second repository with the same dependencies (uv's cache filled);
- **restart path** (Helm's and the deploy_ecs example's way): the location's code server already
  runs; the webserver and daemon are rolled (a new deployment of each) until the UI serves the
  location again. It builds nothing, so it is the floor of that way, not its whole cost;
- **memory**: the RSS of every process of the stack before and after 10 repositories were added
  (each code location's process tree, and whether the webserver or daemon grew).

``python -m bench.run --only repos``. Writes bench/results/repos.json and repos.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from repository_manager.dagster_api import DagsterApi
from repository_manager.settings import STACK_TAG

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CLI = str(Path(sys.executable).parent / "dagster-ecs")
MB = 2**20
REPOSITORIES = 10
WARM_TARGET_S = 10.0
LOCATION_RSS_TARGET_MB = 250.0


def _git(folder: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)


def make_repo(folder: Path, package: str) -> str:
    (folder / package).mkdir(parents=True)
    _git(folder, "init", "-q", "-b", "main")
    (folder / package / "__init__.py").write_text("")
    (folder / package / "definitions.py").write_text(
        "from dagster import Definitions, asset\n\n\n"
        f"@asset\ndef {package}_numbers():\n    return [1, 2, 3]\n\n\n"
        f"defs = Definitions(assets=[{package}_numbers])\n"
    )
    (folder / "requirements.txt").write_text("six\n")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "-m", "first")
    return f"file://{folder}"


def _free_ports(count: int) -> list[int]:
    import socket

    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in ports:
            ports.append(port)
    return ports


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


class BenchStack:
    def __init__(self, state: Path, uv_cache: Path) -> None:
        names = ("EMULATOR", "POSTGRES", "CODE_SERVER", "WEBSERVER")
        ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.state = state
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAGSTER_"))},
            "DAGSTER_ECS_STATE_DIR": str(state),
            "UV_CACHE_DIR": str(uv_cache),
            **{f"DAGSTER_ECS_{name}_PORT": str(port) for name, port in ports.items()},
        }
        self.api = DagsterApi(f"http://127.0.0.1:{ports['WEBSERVER']}", timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [CLI, *args], env=self.env, capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise RuntimeError(f"dagster-ecs {' '.join(args)}: {done.stderr.strip()}")
        return done

    def add(self, url: str, name: str) -> float:
        began = time.monotonic()
        self.cli("repo", "add", "--url", url, "--name", name)
        return time.monotonic() - began

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(STACK_TAG) == str(self.state):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def rss_by_role(self) -> dict[str, float]:
        """MB per role: each code location's process tree (the code-server proxy and the server
        it runs) by its location name, the webserver's and the daemon's; each process once."""
        roles: dict[str, float] = {}
        for proc in self.processes():
            try:
                role = _role(proc.cmdline())
                parent = proc.parent()
                if role is None or (parent is not None and _role(parent.cmdline()) == role):
                    continue
                tree = [proc, *proc.children(recursive=True)]
                rss = sum(member.memory_info().rss for member in tree) / MB
            except psutil.NoSuchProcess:
                continue
            roles[role] = roles.get(role, 0.0) + rss
        return roles

    def restart_path(self, location: str) -> float:
        """New deployments of the webserver and daemon until the UI serves ``location``."""
        ecs = self.admin_client("ecs")
        began = time.monotonic()
        for service in ("webserver", "daemon"):
            ecs.update_service(cluster="dagster-ecs", service=service, forceNewDeployment=True)
        _wait(lambda: self._rolled(ecs), 300, "the rollout")
        _wait(lambda: self.api.location_statuses().get(location) == "LOADED", 300, location)
        return time.monotonic() - began

    def _rolled(self, ecs: Any) -> bool:
        services = ecs.describe_services(cluster="dagster-ecs", services=["webserver", "daemon"])
        return all(
            len(s["deployments"]) == 1 and s["runningCount"] == 1 for s in services["services"]
        )

    def admin_client(self, service: str) -> Any:
        import boto3

        keys = json.loads((self.state / "credentials.json").read_text())
        stack = json.loads((self.state / "stack.json").read_text())
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=stack["emulator_url"], region_name="ap-southeast-2", **keys
        )


def _role(line: list[str]) -> str | None:
    text = " ".join(line)
    if "repository_manager.workspace" in text:
        return None
    if "--location-name" in line:
        return f"location {line[line.index('--location-name') + 1]}"
    for marker, name in (("dagster_code.webserver", "webserver"), ("dagster-daemon", "daemon")):
        if marker in text:
            return name
    return None


def run(quick: bool = False) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dagster-ecs-bench-repos-"))
    stack = BenchStack(work / "state", work / "uv-cache")
    load_before = os.getloadavg()
    try:
        stack.cli("dev", "up")
        idle = stack.rss_by_role()
        cold = stack.add(make_repo(work / "git" / "first", "first"), "first")
        warm = [
            stack.add(make_repo(work / "git" / f"r{i}", f"r{i}"), f"r{i}")
            for i in range(2 if quick else REPOSITORIES)
        ]
        restart = stack.restart_path("first")
        loaded = stack.rss_by_role()
    finally:
        subprocess.run([CLI, "dev", "stop"], env=stack.env, capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    locations = {role: mb for role, mb in loaded.items() if role.startswith("location ")}
    warm_median = statistics.median(warm)
    result = {
        "repositories": 1 + len(warm),
        "cold_add_s": cold,
        "warm_add_s": {"median": warm_median, "max": max(warm), "all": warm},
        "restart_path_s": restart,
        "ratios": {"warm_add_vs_restart_path": warm_median / restart},
        "rss_mb": {
            "idle": idle,
            "with_repositories": loaded,
            "largest_location": max(locations.values()),
            "webserver_growth": loaded.get("webserver", 0.0) - idle.get("webserver", 0.0),
            "daemon_growth": loaded.get("daemon", 0.0) - idle.get("daemon", 0.0),
        },
        "targets": {
            "warm_add_s": WARM_TARGET_S,
            "location_rss_mb": LOCATION_RSS_TARGET_MB,
        },
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    write(result)
    return result


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "repos.json").write_text(json.dumps(result, indent=2) + "\n")
    warm, rss = result["warm_add_s"], result["rss_mb"]
    passed = "pass" if warm["median"] <= WARM_TARGET_S else "**missed**"
    faster = "faster" if result["ratios"]["warm_add_vs_restart_path"] < 1 else "**slower**"
    loc_pass = "pass" if rss["largest_location"] <= LOCATION_RSS_TARGET_MB else "**missed**"
    load = result["load_average"]
    lines = [
        "# Repository manager benchmark",
        "",
        "`python -m bench.run --only repos` on one `make dev` stack (IAM enforced), 2-core "
        f"machine, load average {load['before'][0]:.1f} before / {load['after'][0]:.1f} after.",
        "",
        "| measure | value | reference | target |",
        "|---|---|---|---|",
        f"| add-repo → LOADED, cold uv cache (first repository) | {result['cold_add_s']:.1f} s "
        "| | |",
        f"| add-repo → LOADED, warm (median of {len(warm['all'])}, max) | {warm['median']:.1f} s "
        f"({warm['max']:.1f} s) | restart path {result['restart_path_s']:.1f} s: ratio "
        f"{result['ratios']['warm_add_vs_restart_path']:.2f} ({faster}) | ≤ 10 s {passed} |",
        f"| largest code location tree, idle | {rss['largest_location']:.0f} MB | | "
        f"≤ 250 MB {loc_pass} |",
        f"| webserver / daemon growth with {result['repositories']} repositories | "
        f"{rss['webserver_growth']:+.0f} / {rss['daemon_growth']:+.0f} MB | | |",
        "",
        "The restart path is Helm's and the deploy_ecs example's way to add a location: the new",
        "location's code server already runs and the webserver and daemon are rolled until the",
        "UI serves it again. It includes no image build, so it is that way's floor; add-repo",
        "includes clone, image build, import check, every AWS resource and the wait for LOADED,",
        "and restarts nothing.",
    ]
    (RESULTS / "repos.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
