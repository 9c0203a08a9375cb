"""`deploy-dags` against a real stack: DAG files reach the running code server through S3 with
no restart, a broken tree is never served, runs keep the code they were launched with."""

from __future__ import annotations

import pickle
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from repository_manager.dagster_api import DagsterApi
from tests.integration.conftest import REPO_ROOT, wait_for
from tests.integration.repo_fixtures import dagster_repo, url
from tests.integration.stack_fixtures import CLI, LocalStack, finished_run, started_stack

pytestmark = pytest.mark.integration
BUCKET = "dagster-ecs-local"
INTERVAL = 1

INIT = """from dagster import Definitions, define_asset_job, load_assets_from_modules

from . import {modules}

defs = Definitions(
    assets=load_assets_from_modules([{modules}]),
    jobs=[define_asset_job("probe_job", selection=["probe"])],
)
"""
ASSETS = """from dagster import asset

VERSION = "{version}"


@asset(description=VERSION)
def probe() -> str:
    return VERSION
"""


def dag_package(root: Path, version: str, extra: dict[str, str] | None = None) -> Path:
    """A DAG package with a `probe` asset returning ``version`` and one asset per extra file."""
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    root.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    modules = ", ".join(["assets", *extra])
    (root / "__init__.py").write_text(INIT.format(modules=modules))
    (root / "assets.py").write_text(ASSETS.format(version=version))
    for module, body in extra.items():
        (root / f"{module}.py").write_text(body)
    return root


def extra_asset(name: str) -> str:
    return f"from dagster import asset\n\n\n@asset\ndef {name}() -> int:\n    return 1\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("dags") / "state"
    with started_stack(state, DAG_SYNC_INTERVAL=str(INTERVAL)) as running:
        yield running


def dags(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.dagster_ecs("dags", *args, timeout=240)


def deploy(
    stack: LocalStack, source: Path, location: str = "main"
) -> subprocess.CompletedProcess[str]:
    return dags(stack, "deploy", "--location", location, "--source", str(source))


def asset_names(stack: LocalStack) -> set[str]:
    data = DagsterApi(stack.url("webserver")).query("{assetNodes{assetKey{path}}}")
    return {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}


def probe_description(stack: LocalStack) -> str | None:
    """The `probe` asset's description as the webserver shows it: the served tree's version."""
    data = DagsterApi(stack.url("webserver")).query("{assetNodes{assetKey{path} description}}")
    found = [n["description"] for n in data["assetNodes"] if n["assetKey"]["path"] == ["probe"]]
    return found[0] if found else None


def code_server(stack: LocalStack, location: str = "main") -> tuple[int, str]:
    """(PID of the location's `dagster code-server start` proxy, ARN of its task)."""
    proxies = [
        p.pid
        for p in stack.processes()
        if "python" in Path(p.cmdline()[0]).name
        and "code-server" in p.cmdline()
        and p.cmdline()[-1] == location
        and "dagster_code.dags_sync" not in p.cmdline()
    ]
    ecs = stack.client("ecs")
    arns = ecs.list_tasks(cluster="dagster-ecs", serviceName=f"cl-{location}")["taskArns"]
    assert len(proxies) == 1 and len(arns) == 1, (proxies, arns)
    return proxies[0], arns[0]


def deployments(stack: LocalStack) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dags/main/.deployments/")
    return [item["Key"] for item in listed.get("Contents", [])]


def run_probe(stack: LocalStack) -> tuple[str, str]:
    """Launches probe_job; returns (run id, the value its `probe` asset stored)."""
    api = DagsterApi(stack.url("webserver"))
    run_id = api.launch_run("main", "probe_job")
    assert finished_run(api, run_id) == "SUCCESS"
    return run_id, stored_probe(stack)


def stored_probe(stack: LocalStack) -> str:
    body = stack.client("s3").get_object(Bucket=BUCKET, Key="repos/main/assets/probe")["Body"]
    return str(pickle.loads(body.read()))


def task_health(stack: LocalStack, task_arn: str) -> str:
    ecs = stack.client("ecs")
    return str(
        ecs.describe_tasks(cluster="dagster-ecs", tasks=[task_arn])["tasks"][0]["healthStatus"]
    )


def test_a_new_file_is_served_by_the_same_process_and_task(
    stack: LocalStack, tmp_path: Path
) -> None:
    before = code_server(stack)
    wait_for(lambda: task_health(stack, before[1]) == "HEALTHY", 60, "the health check to pass")
    first = deploy(stack, dag_package(tmp_path / "dags", "v1"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "served by every running task" in first.stdout
    wait_for(lambda: asset_names(stack) == {"probe"}, 60, "the v1 tree in the webserver")

    second = deploy(stack, dag_package(tmp_path / "dags", "v1", {"added": extra_asset("added")}))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(2 uploaded, 0 deleted, 1 unchanged)" in second.stdout, second.stdout
    wait_for(lambda: "added" in asset_names(stack), INTERVAL + 30, "the new asset")
    assert code_server(stack) == before

    third = deploy(stack, dag_package(tmp_path / "dags", "v1"))
    assert third.returncode == 0, third.stdout + third.stderr
    assert "1 deleted" in third.stdout, third.stdout
    wait_for(lambda: asset_names(stack) == {"probe"}, INTERVAL + 30, "the deleted asset gone")
    assert code_server(stack) == before


def test_a_broken_tree_is_never_served(stack: LocalStack, tmp_path: Path) -> None:
    good = deploy(stack, dag_package(tmp_path / "dags", "good", {"kept": extra_asset("kept")}))
    assert good.returncode == 0, good.stdout + good.stderr
    wait_for(lambda: "kept" in asset_names(stack), 60, "the good tree")
    broken_tree = dag_package(tmp_path / "dags", "good", {"kept": extra_asset("kept")})
    (broken_tree / "broken.py").write_text("import os\n\nvalue = undefined_name + 1\n")
    (broken_tree / "__init__.py").write_text(
        (broken_tree / "__init__.py").read_text().replace("from . import", "from . import broken,")
    )

    broken = deploy(stack, broken_tree)

    assert broken.returncode == 1
    assert "rejected deployment" in broken.stderr, broken.stderr
    assert "broken.py:3: NameError: name 'undefined_name' is not defined" in broken.stderr
    assert "kept" in asset_names(stack)
    status = dags(stack, "status")
    assert status.returncode == 0, status.stderr
    assert "broken.py:3" in status.stdout and "rejected" in status.stdout, status.stdout
    assert "Traceback" not in broken.stderr + status.stdout
    assert "HEALTHY" in status.stdout, status.stdout
    assert task_health(stack, code_server(stack)[1]) == "HEALTHY"


def test_a_syntax_error_is_refused_before_upload(stack: LocalStack, tmp_path: Path) -> None:
    tree = dag_package(tmp_path / "dags", "v1")
    (tmp_path / "dags" / "assets.py").write_text("def broken(:\n")
    known = deployments(stack)

    result = deploy(stack, tree)

    assert result.returncode == 1
    assert f"{tree / 'assets.py'}:1: SyntaxError" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert deployments(stack) == known


def test_a_missing_folder_is_one_line_and_changes_nothing(
    stack: LocalStack, tmp_path: Path
) -> None:
    known = deployments(stack)
    result = deploy(stack, tmp_path / "absent")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"error: {tmp_path / 'absent'} is not a directory: put the "
        "location's DAG files there"
    )
    assert deployments(stack) == known


def test_rollback_restores_the_previous_assets(stack: LocalStack, tmp_path: Path) -> None:
    older = deploy(stack, dag_package(tmp_path / "dags", "v1", {"old": extra_asset("old")}))
    assert older.returncode == 0, older.stderr
    newer = deploy(stack, dag_package(tmp_path / "dags", "v1", {"new": extra_asset("new")}))
    assert newer.returncode == 0, newer.stderr
    wait_for(lambda: "new" in asset_names(stack), 60, "the newer tree")
    before = code_server(stack)

    rolled = dags(stack, "rollback", "--location", "main", "--steps", "1")

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rollback to" in rolled.stdout
    wait_for(lambda: asset_names(stack) == {"probe", "old"}, 60, "the rolled-back assets")
    assert code_server(stack) == before
    listed = stack.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dags/main/")
    files = {item["Key"] for item in listed["Contents"] if "/.deployments/" not in item["Key"]}
    assert files == {"dags/main/__init__.py", "dags/main/assets.py", "dags/main/old.py"}


def test_a_run_executes_the_deployment_it_was_launched_with(
    stack: LocalStack, tmp_path: Path
) -> None:
    first = deploy(stack, dag_package(tmp_path / "dags", "pinned-n"))
    assert first.returncode == 0, first.stderr
    wait_for(lambda: probe_description(stack) == "pinned-n", 60, "deployment N in the webserver")
    api = DagsterApi(stack.url("webserver"))

    run_id = api.launch_run("main", "probe_job")
    second = deploy(stack, dag_package(tmp_path / "dags", "n-plus-one"))
    assert second.returncode == 0, second.stderr
    final = finished_run(api, run_id)

    assert final == "SUCCESS"
    newer = max(deployments(stack))
    manifest_time = stack.client("s3").head_object(Bucket=BUCKET, Key=newer)["LastModified"]
    (run_task,) = wait_for(lambda: stack.run_tasks(run_id), 60, "the run's task to stop")
    assert run_task["startedAt"] > manifest_time, "N+1 must exist before the run task started"
    assert stored_probe(stack) == "pinned-n"

    wait_for(lambda: probe_description(stack) == "n-plus-one", 60, "N+1 in the webserver")
    _, value = run_probe(stack)
    assert value == "n-plus-one"


def _sync_requests(stack: LocalStack, since: int) -> list[str]:
    lines = (stack.state_dir / "logs" / "emulator-access.log").read_text().splitlines()[since:]
    return [line for line in lines if "dags%2Fmain" in line or "/dags/main/" in line]


def test_an_idle_interval_costs_one_list_and_no_get(stack: LocalStack) -> None:
    access_log = stack.state_dir / "logs" / "emulator-access.log"
    start = len(access_log.read_text().splitlines())
    began = time.monotonic()
    wait_for(
        lambda: len(_sync_requests(stack, start)) >= 5, 60, "five sync intervals", interval=0.5
    )
    elapsed = time.monotonic() - began
    requests = _sync_requests(stack, start)
    assert all("list-type=2" in line for line in requests), requests
    assert len(requests) <= elapsed / INTERVAL + 2, (len(requests), elapsed)


def test_the_entrypoint_fails_fast_without_the_bucket(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in psutil.Process().environ().items()
        if key not in ("DAGSTER_S3_BUCKET",)
    }
    env["PATH"] = f"{Path(CLI).parent}:{env.get('PATH', '')}"
    result = subprocess.run(
        [str(REPO_ROOT / "docker" / "entrypoint.sh"), "dagster", "code-server", "start"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert result.stderr.startswith("error: DAGSTER_S3_BUCKET is not set"), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_repository_location_serves_its_deployment_over_its_checkout(
    stack: LocalStack, tmp_path: Path
) -> None:
    repo = dagster_repo(tmp_path / "git" / "sales", "sales", {"sales_orders": "return [1, 2]"})
    added = subprocess.run(
        [CLI, "repo", "add", "--url", url(repo), "--name", "sales"],
        cwd=REPO_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    wait_for(lambda: "sales_orders" in asset_names(stack), 60, "the repository's asset")
    before = code_server(stack, "sales")
    package = tmp_path / "deploy" / "sales"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        (repo / "sales" / "definitions.py").read_text().replace("sales_orders", "sales_refunds")
    )

    deployed = deploy(stack, package, "sales")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    wait_for(lambda: "sales_refunds" in asset_names(stack), 60, "the deployed asset")
    assert "sales_orders" not in asset_names(stack)
    assert code_server(stack, "sales") == before
    keys = stack.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dags/sales/")["Contents"]
    assert {"dags/sales/definitions.py", "dags/sales/__init__.py"} <= {k["Key"] for k in keys}

    api = DagsterApi(stack.url("webserver"))
    run_id = api.launch_run("sales", "__ASSET_JOB")
    assert finished_run(api, run_id) == "SUCCESS"
    (run_task,) = wait_for(lambda: stack.run_tasks(run_id), 60, "the run's task to stop")
    (container,) = run_task["overrides"]["containerOverrides"]
    assert {"name": "DAGS_DEPLOYMENT", "value": "1"} in container["environment"]
    stored = stack.client("s3").get_object(Bucket=BUCKET, Key="repos/sales/assets/sales_refunds")
    assert pickle.loads(stored["Body"].read()) == [1, 2]

    logged = stack.dagster_ecs("repo", "logs", "sales")
    assert logged.returncode == 0, logged.stderr
    assert any(
        line.startswith(f"[run {run_id[:8]}]") and "sales_refunds" in line
        for line in logged.stdout.splitlines()
    ), logged.stdout[-2000:]

    following = subprocess.Popen(
        [CLI, "repo", "logs", "sales", "--follow", "--limit", "5"],
        cwd=REPO_ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(following.stdout or []), daemon=True)
    reader.start()
    try:
        later = api.launch_run("sales", "__ASSET_JOB")
        assert finished_run(api, later) == "SUCCESS"
        wait_for(
            lambda: any(line.startswith(f"[run {later[:8]}]") for line in list(seen)),
            60,
            "the later run's lines in the followed logs",
        )
    finally:
        following.terminate()
        following.wait(timeout=30)


def test_deploy_without_a_location_deploys_every_dags_folder_of_the_project(
    stack: LocalStack,
) -> None:
    """`make deploy-dags` (no REPO_NAME): every running location with a `dags/<name>/` folder
    here (only `main`); the platform's own sample pipelines are served again."""
    before = code_server(stack)

    deployed = dags(stack, "deploy")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert deployed.stdout.startswith("main: deployment "), deployed.stdout
    assert "sales:" not in deployed.stdout
    wait_for(lambda: "order_summary" in asset_names(stack), 60, "dags/main's assets")
    assert "probe" not in asset_names(stack)
    assert code_server(stack) == before
