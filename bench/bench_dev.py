"""Local stack benchmark: ``make dev`` to UI ready (cold clone, warm, restart) and the stack's
memory at rest and during one ``main_assets_job`` run, side by side with ``dagster dev`` on the
same code location.

``run() -> dict`` for bench/run.py; ``python -m bench.bench_dev [--quick]`` writes
bench/results/dev.{json,md}. ``quick`` does one repetition and skips the cold clone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import boto3
import psutil
import requests

from bench.report import Target, markdown_table, median, ratio, targets_table, verdict
from repository_manager.dagster_api import DagsterApi
from repository_manager.settings import STACK_TAG

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
REFERENCE_TAG = "DAGSTER_ECS_BENCH_REFERENCE"
JOB = "main_assets_job"
BUCKET = "dagster-ecs-local"
REGION: Final = "ap-southeast-2"
MB = 2**20
SAMPLE_S = 0.2
REPETITIONS = 3

START_RATIO_TARGET = 1.5
PROCESS_RSS_TARGET_MB = 512.0
STACK_RSS_TARGET_MB = 1536.0
DAGSTER_ROLES = ("code-server", "webserver", "daemon", "run worker")

T = TypeVar("T")


# --- pure parts: roles and RSS samples ------------------------------------------------------


def program(cmdline: list[str]) -> tuple[str, list[str]]:
    """What a command line runs (``python -m X`` → X, ``python /bin/X`` → X) and its args."""
    if not cmdline:
        return "", []
    first, rest = Path(cmdline[0]).name, cmdline[1:]
    if first.startswith("python") and rest:
        if rest[0] == "-m" and len(rest) > 1:
            return rest[1], rest[2:]
        return Path(rest[0]).name, rest[1:]
    return first, rest


def own_role(name: str, cmdline: list[str]) -> str | None:
    """The role a process has by its own command line, or None (it inherits its parent's)."""
    prog, args = program(cmdline)
    head = args[:2]
    if prog == "dagster":
        if head and head[0] == "api" and head[1:] in (["execute_run"], ["resume_run"]):
            return "run worker"
        if head[:1] == ["code-server"] or head == ["api", "grpc"]:
            return "code-server"
        if head[:1] == ["dev"]:
            return "dagster dev"
    if prog in ("dagster-webserver", "dagster_webserver", "dagster_code.webserver"):
        return "webserver"
    if prog in ("dagster-daemon", "dagster._daemon"):
        return "daemon"
    if prog == "dagster_ecs_emulator.server":
        return "emulator"
    if prog.split(".")[0] == "ecs_local":
        return "ecs runtime"
    if name == "postgres" or prog in ("postgres", "pg_ctl"):
        return "postgres"
    return None


def assign_roles(procs: Mapping[int, tuple[int, str, list[str]]]) -> dict[int, str]:
    """pid → role for ``{pid: (ppid, name, cmdline)}``; unnamed processes take their nearest
    tagged ancestor's role (multiprocessing children, shells), else ``other``."""
    roles: dict[int, str] = {}

    def resolve(pid: int, seen: frozenset[int] = frozenset()) -> str:
        if pid in roles:
            return roles[pid]
        ppid, name, cmdline = procs[pid]
        role = own_role(name, cmdline)
        if role is None:
            role = resolve(ppid, seen | {pid}) if ppid in procs and ppid not in seen else "other"
        roles[pid] = role
        return role

    for pid in procs:
        resolve(pid)
    return roles


@dataclass
class Sample:
    """One snapshot: role → summed RSS (bytes) and pid → (role, RSS)."""

    by_role: dict[str, int]
    by_pid: dict[int, tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(self.by_role.values())


def make_sample(rss: Mapping[int, int], roles: Mapping[int, str]) -> Sample:
    by_role: dict[str, int] = {}
    for pid, value in rss.items():
        by_role[roles[pid]] = by_role.get(roles[pid], 0) + value
    return Sample(by_role, {pid: (roles[pid], value) for pid, value in rss.items()})


def peaks(samples: Iterable[Sample]) -> dict[str, Any]:
    """Peak MB per role (of the role's sum at one instant), of the whole, and of one process."""
    role_peak: dict[str, int] = {}
    total_peak = 0
    process_peak: tuple[int, str, int] = (0, "", 0)
    for sample in samples:
        for role, value in sample.by_role.items():
            role_peak[role] = max(role_peak.get(role, 0), value)
        total_peak = max(total_peak, sample.total)
        for pid, (role, value) in sample.by_pid.items():
            if value > process_peak[2]:
                process_peak = (pid, role, value)
    return {
        "by_role_mb": {role: value / MB for role, value in sorted(role_peak.items())},
        "total_mb": total_peak / MB,
        "largest_process": {"role": process_peak[1], "rss_mb": process_peak[2] / MB},
    }


def evaluate(result: Mapping[str, Any]) -> list[Target]:
    """The benchmark's targets on a result dict of :func:`run`."""
    ratios = result["ratios"]
    stack = result["stack_memory"]
    targets = [
        Target(
            "warm `dagster-ecs dev up` / `dagster dev` start",
            ratios.get("warm_vs_dagster_dev"),
            START_RATIO_TARGET,
            "x",
        )
    ]
    for role in DAGSTER_ROLES:
        value = stack["during_run"]["by_role_mb"].get(role)
        if value is not None:
            targets.append(Target(f"{role} peak RSS", value, PROCESS_RSS_TARGET_MB, "MB"))
    targets.append(
        Target("whole stack peak RSS", stack["during_run"]["total_mb"], STACK_RSS_TARGET_MB, "MB")
    )
    return targets


# --- processes -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:
            last = error
        time.sleep(every)
    raise TimeoutError(f"{what} not reached after {timeout:.0f} s (last error: {last})")


def tagged(variable: str, value: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(variable) == value:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _snapshot(variable: str, value: str) -> Sample:
    procs: dict[int, tuple[int, str, list[str]]] = {}
    rss: dict[int, int] = {}
    for proc in tagged(variable, value):
        try:
            with proc.oneshot():
                procs[proc.pid] = (proc.ppid(), proc.name(), proc.cmdline())
                rss[proc.pid] = proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return make_sample(rss, assign_roles(procs))


def _kill_tagged(variable: str, value: str) -> int:
    left = tagged(variable, value)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(left, timeout=10)
    return len(left)


def ui_ready(api: DagsterApi) -> bool:
    """``/server_info`` answers and every code location is LOADED (fails fast on a load error)."""
    if not api.server_info_ok():
        return False
    statuses = api.location_statuses()
    errors = [f"{k}: {v}" for k, v in statuses.items() if v.startswith("ERROR")]
    if errors:
        raise RuntimeError("code location failed to load: " + "; ".join(errors))
    return bool(statuses) and all(v == "LOADED" for v in statuses.values())


def run_with_sampling(api: DagsterApi, location: str, variable: str, value: str) -> dict[str, Any]:
    """Launches the job, samples RSS of every tagged process every 0.2 s until it ends."""
    samples: list[Sample] = []
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            samples.append(_snapshot(variable, value))
            done.wait(SAMPLE_S)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    began = time.monotonic()
    try:
        run_id = api.launch_run(location, JOB)
        status = _wait(
            lambda: (s := api.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s,
            300,
            f"run {run_id} finished",
            0.2,
        )
    finally:
        done.set()
        thread.join()
    samples.append(_snapshot(variable, value))
    return {"status": status, "seconds": time.monotonic() - began, **peaks(samples)}


def at_rest(variable: str, value: str) -> dict[str, Any]:
    sample = _snapshot(variable, value)
    return {
        "by_role_mb": {role: rss / MB for role, rss in sorted(sample.by_role.items())},
        "total_mb": sample.total / MB,
        "processes": len(sample.by_pid),
    }


# --- the dagster-ecs stack -------------------------------------------------------------------


@dataclass
class Stack:
    root: Path
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fresh(cls, root: Path, state_dir: Path) -> Stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for key in ("DAGSTER_HOME", "VIRTUAL_ENV", *(("PYTHONPATH",) if root != ROOT else ())):
            env.pop(key, None)
        env["DAGSTER_ECS_STATE_DIR"] = str(state_dir)
        for name in ("EMULATOR", "POSTGRES", "CODE_SERVER", "WEBSERVER"):
            env[f"DAGSTER_ECS_{name}_PORT"] = str(_free_port())
        return cls(root, state_dir, env)

    @property
    def api(self) -> DagsterApi:
        return DagsterApi(f"http://127.0.0.1:{self.env['DAGSTER_ECS_WEBSERVER_PORT']}")

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.root / ".venv" / "bin" / "dagster-ecs"), "dev", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self, argv: list[str] | None = None) -> float:
        """Seconds from the start command to UI ready; the command is ``dev up`` by default."""
        began = time.monotonic()
        if argv is None:
            done = self.cli("up")
        else:
            done = subprocess.run(
                argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=900
            )
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise RuntimeError(
                f"{' '.join(argv or ['dagster-ecs dev up'])} failed: " + " / ".join(tail)
            )
        _wait(lambda: ui_ready(self.api), 120, "UI ready", 0.1)
        return time.monotonic() - began

    def stop(self) -> int:
        """Stops the stack; returns how many tagged processes had to be killed after ``stop``."""
        if (self.root / ".venv" / "bin" / "dagster-ecs").exists():
            self.cli("stop", timeout=120)
        return _kill_tagged(STACK_TAG, str(self.state_dir))


# --- dagster dev, the reference --------------------------------------------------------------


class Emulator:
    """A bare emulator serving S3 for ``dagster dev`` (not counted in its memory)."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_ecs_emulator.server",
                "--host",
                "127.0.0.1",
                "--port",
                port,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: requests.get(f"{self.url}/moto-api/", timeout=1).ok, 60, "emulator")
            boto3.client(
                "s3",
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id="test",
                aws_secret_access_key="test",
            ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class DagsterDev:
    def __init__(self, emulator_url: str, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True)
        self.port = _free_port()
        self.tag = str(home)
        self.api = DagsterApi(f"http://127.0.0.1:{self.port}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAGSTER_"))}
        env.update(
            AWS_ENDPOINT_URL=emulator_url,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            DAGSTER_HOME=str(home),
            DAGSTER_S3_BUCKET=BUCKET,
            DAGSTER_REPO_NAME="main",
            DAGS_DIR=str(ROOT / "dags" / "main"),
            **{REFERENCE_TAG: self.tag},
        )
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def up(self) -> float:
        began = time.monotonic()
        with open(self.home / "dagster-dev.log", "wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(str(BIN / "dagster"), "dev", "-m", "dagster_code.definitions"),
                    *("-h", "127.0.0.1", "-p", str(self.port)),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}")
            return ui_ready(self.api)

        _wait(ready, 180, "dagster dev UI ready", 0.1)
        return time.monotonic() - began

    @property
    def location(self) -> str:
        return next(iter(self.api.location_statuses()))

    def stop(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        return _kill_tagged(REFERENCE_TAG, self.tag)


# --- scenarios -------------------------------------------------------------------------------


def _retrying(what: str, action: Callable[[], T], attempts: int = 3, pause: float = 20) -> T:
    """The stack may be mid-change by another engineer: try again a little later."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts:
                raise
            print(f"  {what} failed ({error}); retrying in {pause:.0f} s", file=sys.stderr)
            time.sleep(pause)
    raise AssertionError("unreachable")


def _cold(work: Path, notes: list[str]) -> dict[str, Any]:
    clone = work / "clone"
    began = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    clone_s = time.monotonic() - began
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stack = Stack.fresh(clone, work / "cold-state")
    try:
        seconds = stack.up(["make", "dev"])
    finally:
        leftovers = stack.stop()
    if leftovers:
        notes.append(f"cold: {leftovers} processes were left after `dev stop` and were killed")
    return {"make_dev_to_ui_s": seconds, "git_clone_s": clone_s, "commit": head}


def _dagster_dev_round(work: Path, index: int, measure: bool, notes: list[str]) -> dict[str, Any]:
    emulator = Emulator()
    dev = DagsterDev(emulator.url, work / f"dagster-dev-{index}")
    try:
        out: dict[str, Any] = {"start_s": dev.up()}
        if measure:
            out["after_start"] = at_rest(REFERENCE_TAG, dev.tag)
            out["during_run"] = run_with_sampling(dev.api, dev.location, REFERENCE_TAG, dev.tag)
        return out
    finally:
        out_left = dev.stop()
        emulator.close()
        if out_left:
            notes.append(
                f"dagster dev {index}: {out_left} processes outlived SIGTERM to its group, killed"
            )


def _stack_round(work: Path, index: int, measure: bool, notes: list[str]) -> dict[str, Any]:
    stack = Stack.fresh(ROOT, work / f"warm-{index}" / "state")
    try:
        out: dict[str, Any] = {"start_s": _retrying("dagster-ecs dev up", stack.up)}
        tag = str(stack.state_dir)
        if measure:
            out["after_start"] = at_rest(STACK_TAG, tag)
            out["during_run"] = run_with_sampling(stack.api, "main", STACK_TAG, tag)
        leftovers = stack.stop()
        if leftovers:
            notes.append(f"warm {index}: {leftovers} processes left after `dev stop`, killed")
        out["restart_s"] = _retrying("dagster-ecs dev up (restart)", stack.up)
        return out
    finally:
        leftovers = stack.stop()
        if leftovers:
            notes.append(f"warm {index}: {leftovers} processes left after `dev stop`, killed")


def run(quick: bool = False, cold: bool | None = None) -> dict[str, Any]:
    quick = quick or os.environ.get("DAGSTER_ECS_BENCH_QUICK") == "1"
    cold = (not quick) if cold is None else cold
    repetitions = 1 if quick else REPETITIONS
    notes: list[str] = []
    load = [os.getloadavg()[0]]
    work = Path(tempfile.mkdtemp(prefix="bench-dev-"))
    try:
        stack_rounds, reference_rounds = [], []
        for index in range(repetitions):
            print(f"round {index + 1}/{repetitions}: dagster-ecs dev up", file=sys.stderr)
            stack_rounds.append(_stack_round(work, index, index == 0, notes))
            print(f"round {index + 1}/{repetitions}: dagster dev", file=sys.stderr)
            reference_rounds.append(_dagster_dev_round(work, index, index == 0, notes))
            load.append(os.getloadavg()[0])
        cold_result = None
        if cold:
            print("cold: git clone + make dev", file=sys.stderr)
            cold_result = _cold(work, notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    warm = [r["start_s"] for r in stack_rounds]
    restart = [r["restart_s"] for r in stack_rounds]
    reference = [r["start_s"] for r in reference_rounds]
    result: dict[str, Any] = {
        "repetitions": repetitions,
        "load_avg_1min": load,
        "start_s": {
            "cold_make_dev": cold_result,
            "warm_fresh_state": {"median": median(warm), "runs": warm},
            "restart_kept_state": {"median": median(restart), "runs": restart},
            "dagster_dev": {"median": median(reference), "runs": reference},
        },
        "ratios": {
            "warm_vs_dagster_dev": ratio(median(warm), median(reference)),
            "restart_vs_dagster_dev": ratio(median(restart), median(reference)),
            "cold_vs_dagster_dev": ratio(
                cold_result["make_dev_to_ui_s"] if cold_result else None, median(reference)
            ),
        },
        "stack_memory": {
            "after_start": stack_rounds[0]["after_start"],
            "during_run": stack_rounds[0]["during_run"],
        },
        "dagster_dev_memory": {
            "after_start": reference_rounds[0]["after_start"],
            "during_run": reference_rounds[0]["during_run"],
        },
        "notes": notes,
    }
    result["targets"] = [t.as_dict() for t in evaluate(result)]
    write(result)
    return result


# --- output ----------------------------------------------------------------------------------


def render(result: Mapping[str, Any]) -> str:
    starts = result["start_s"]
    cold = starts["cold_make_dev"]
    ref = starts["dagster_dev"]["median"]

    def spread(runs: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in runs)

    start_rows: list[tuple[Any, ...]] = [
        (
            "cold: `make dev` in a fresh `git clone` (venv + pip install + stack)",
            1 if cold else 0,
            cold["make_dev_to_ui_s"] if cold else None,
            f"clone {cold['git_clone_s']:.1f} s, commit {cold['commit']}" if cold else "skipped",
        ),
        (
            "warm: `dagster-ecs dev up`, fresh state dir",
            len(starts["warm_fresh_state"]["runs"]),
            starts["warm_fresh_state"]["median"],
            spread(starts["warm_fresh_state"]["runs"]),
        ),
        (
            "restart: `dagster-ecs dev up`, state kept",
            len(starts["restart_kept_state"]["runs"]),
            starts["restart_kept_state"]["median"],
            spread(starts["restart_kept_state"]["runs"]),
        ),
        (
            "reference: `dagster dev -m dagster_code.definitions`",
            len(starts["dagster_dev"]["runs"]),
            ref,
            spread(starts["dagster_dev"]["runs"]),
        ),
    ]
    stack, dev = result["stack_memory"], result["dagster_dev_memory"]
    roles = sorted(set(stack["after_start"]["by_role_mb"]) | set(stack["during_run"]["by_role_mb"]))
    memory_rows = []
    for role in roles:
        peak = stack["during_run"]["by_role_mb"].get(role)
        limit = PROCESS_RSS_TARGET_MB if role in DAGSTER_ROLES else None
        memory_rows.append(
            (
                role,
                stack["after_start"]["by_role_mb"].get(role),
                peak,
                f"≤ {limit:.0f}: {verdict(peak <= limit if peak is not None else None)}"
                if limit
                else "",
            )
        )
    memory_rows.append(
        (
            "**whole stack**",
            stack["after_start"]["total_mb"],
            stack["during_run"]["total_mb"],
            f"≤ {STACK_RSS_TARGET_MB:.0f}: "
            + verdict(stack["during_run"]["total_mb"] <= STACK_RSS_TARGET_MB),
        )
    )
    dev_rows = [
        (
            role,
            dev["after_start"]["by_role_mb"].get(role),
            dev["during_run"]["by_role_mb"].get(role),
        )
        for role in sorted(
            set(dev["after_start"]["by_role_mb"]) | set(dev["during_run"]["by_role_mb"])
        )
    ]
    dev_rows.append(("**total**", dev["after_start"]["total_mb"], dev["during_run"]["total_mb"]))
    ratios = result["ratios"]
    lines = [
        "# Local stack benchmark (`make dev` vs `dagster dev`)",
        "",
        f"Start = command issued → `/server_info` answers and every code location is LOADED "
        f"(GraphQL `workspaceOrError`). Median of {result['repetitions']} run(s), each on free "
        "ports with its own temp state dir; the stack and `dagster dev` alternate round by round. "
        "Machine load (1-min average) at start and after each round: "
        + ", ".join(f"{v:.2f}" for v in result.get("load_avg_1min", []))
        + ".",
        "",
        "## Start-up",
        "",
        markdown_table(["scenario", "runs", "median s", "detail (s)"], start_rows),
        "",
        markdown_table(
            ["ratio", "value"],
            [
                ("warm / dagster dev", ratios["warm_vs_dagster_dev"]),
                ("restart / dagster dev", ratios["restart_vs_dagster_dev"]),
                ("cold / dagster dev", ratios["cold_vs_dagster_dev"]),
            ],
        ),
        "",
        "## Memory of the dagster-ecs stack (RSS, MB)",
        "",
        f"Every process tagged with the stack's `DAGSTER_ECS_STACK`, grouped by role; sampled "
        f"every {SAMPLE_S} s during one `{JOB}` run "
        f"({stack['during_run']['status']}, {stack['during_run']['seconds']:.1f} s). Peak of a "
        "role = the largest sum of its processes at one instant.",
        "",
        markdown_table(["role", "after start", "peak during run", "target"], memory_rows),
        "",
        f"Largest single process during the run: {stack['during_run']['largest_process']['role']}"
        f" at {stack['during_run']['largest_process']['rss_mb']:.0f} MB.",
        "",
        "## Memory of `dagster dev` (RSS, MB)",
        "",
        "Its process group (the S3 emulator it uses is not counted; its run worker runs in the "
        f"code server's tree, as with the default run launcher); one `{JOB}` run "
        f"({dev['during_run']['status']}, {dev['during_run']['seconds']:.1f} s).",
        "",
        markdown_table(["role", "after start", "peak during run"], dev_rows),
        "",
        "## Targets",
        "",
        targets_table(
            [Target(t["name"], t["value"], t["limit"], t["unit"]) for t in result["targets"]]
        ),
        "",
        "Notes: RSS sums count shared pages once per process (PostgreSQL's shared buffers, "
        "forked children), so sums overstate real use. The cold start uses the machine's pip "
        "cache as found.",
    ]
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def write(result: Mapping[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dev.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "dev.md").write_text(render(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one repetition, no cold clone")
    args = parser.parse_args()
    print(render(run(quick=args.quick)))


if __name__ == "__main__":
    main()
