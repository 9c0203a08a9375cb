"""`tofu apply` to the emulator gives a running platform: the parity the product promises.

The ECS runtime runs the services tofu created, with the task definitions tofu registered; the
database is the emulator's RDS instance (a real PostgreSQL server); `dagster-ecs deploy --env
local` finds nothing to change and waits until every service is stable; a run launched through
the webserver goes through the daemon's EcsRunLauncher into its own task and writes under
repos/main/ in tofu's bucket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from repository_manager.dagster_api import DagsterApi
from repository_manager.devstack.local_platform import build_platform_image, images_file
from repository_manager.infra.runner import InfraRunner
from repository_manager.settings import STACK_TAG, StackSettings
from repository_manager.snapshot.model import Snapshot
from tests.integration.conftest import REPO_ROOT, free_port, running_emulator, wait_for
from tests.integration.ecs_fixtures import group_members, runtime_env, task_pgids
from tests.integration.repo_fixtures import commit_all, dagster_repo, git, write_assets
from tests.integration.repo_fixtures import url as repo_url
from tests.integration.test_infrastructure import CLI, iac

__all__ = ["iac"]

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def ecs_runtime(endpoint: str, state_dir: Path, images: Path) -> Iterator[None]:
    log = state_dir.parent / "ecs-runtime.log"
    state_dir.mkdir(parents=True)
    command = [sys.executable, "-m", "ecs_local", "--endpoint", endpoint, "--state-dir"]
    command += [str(state_dir), "--images", str(images), "--metadata-port", "0"]
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=runtime_env(endpoint),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "ecs_local ready" in log.read_text(), 30, "the ECS runtime")
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_cli(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI with ``state_dir`` as its state folder; it must succeed."""
    result = subprocess.run(
        [CLI, *args],
        env={**os.environ, "DAGSTER_ECS_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (args, result.stdout + result.stderr)
    return result


def drain(ecs: Any, cluster: str, state_dir: Path) -> None:
    """Deletes the services and stops the tasks, then waits for every task process to be gone."""
    with contextlib.suppress(ecs.exceptions.ClusterNotFoundException):
        for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
            ecs.update_service(cluster=cluster, service=arn, desiredCount=0)
        for arn in ecs.list_tasks(cluster=cluster)["taskArns"]:
            ecs.stop_task(cluster=cluster, task=arn, reason="test teardown")
    wait_for(lambda: not task_pgids(state_dir), 60, "every task process stopped")


@pytest.mark.timeout(1200)  # five applies, a run, two image builds and three plans
def test_a_tofu_applied_stack_runs_deploys_and_launches_runs(iac: None, tmp_path: Path) -> None:
    name = f"tf{uuid.uuid4().hex[:6]}"
    bucket = f"{name}-bucket"
    webserver_port = free_port()
    # The CLI's own state dir ($DAGSTER_ECS_STATE_DIR): its image, its infra/local work dir.
    settings = StackSettings(root=REPO_ROOT, state_dir=tmp_path)
    build_platform_image(settings)
    with running_emulator() as url:
        session = boto3.session.Session("test", "test", region_name="ap-southeast-2")
        ecs = session.client("ecs", endpoint_url=url)
        runner = InfraRunner(
            "local",
            work_dir=tmp_path / "infra" / "local",
            emulator_url=url,
            stream=False,
            variables={
                "name": name,
                "bucket_name": bucket,
                "webserver_port": webserver_port,
                "grpc_port": free_port(),
                "workspace_file": str(tmp_path / "workspace.yaml"),
                "create_s3_user": True,
                "dag_sync_uses_s3_user": True,
            },
        )
        runtime_state = tmp_path / "ecs-tofu"  # tmp_path/ecs is the settings' own
        with ecs_runtime(url, runtime_state, images_file(settings)):
            try:
                runner.apply()
                local = ["--env", "local", "--emulator-url", url]
                deployed = run_cli(tmp_path, "deploy", *local, "--timeout", "240", timeout=300)
                assert "nothing changed" in deployed.stdout
                for service in ("cl-main", "webserver", "daemon"):
                    assert f"{service}: running" in deployed.stdout

                api = DagsterApi(f"http://127.0.0.1:{webserver_port}")
                wait_for(lambda: api.location_statuses() == {"main": "LOADED"}, 120, "main")
                # The S3 user's key reaches the DAG sync agent, never the code server's processes.
                key_id = runner.outputs()["aws_access_key_id"]
                members = code_location_processes(runtime_state)
                agents = [
                    p
                    for p in members
                    if "dagster_code.dags_sync" in _cmdline(p) and "watch" in _cmdline(p)
                ]
                servers = dagster_servers(members)
                assert [_environ(p).get("DAG_SYNC_AWS_ACCESS_KEY_ID") for p in agents] == [key_id]
                assert servers
                assert not [p for p in servers if "DAG_SYNC_AWS_ACCESS_KEY_ID" in _environ(p)]

                # deploy-dags to the tofu environment: the same server process serves it.
                server_pids = {p.pid for p in servers}
                dags = tmp_path / "dags-main"
                shutil.copytree(REPO_ROOT / "dags" / "main", dags)
                with open(dags / "assets.py", "a") as assets:
                    assets.write(NEW_ASSET)
                published = run_cli(
                    tmp_path,
                    "dags",
                    "deploy",
                    *local,
                    "--location",
                    "main",
                    "--source",
                    str(dags),
                    timeout=180,
                )
                assert "main: served by every running task" in published.stdout
                wait_for(
                    lambda: "deployed_through_tofu" in asset_names(api), 60, "the deployed asset"
                )
                assert dagster_servers(code_location_processes(runtime_state))[0].pid in server_pids
                run_id = api.launch_run("main", "main_assets_job")
                final = wait_for(
                    lambda: (s := api.run_status(run_id)) in {"SUCCESS", "FAILURE"} and s,
                    timeout=180,
                    what="the run",
                    interval=0.5,
                )
                assert final == "SUCCESS"

                def stopped_run_task() -> dict[str, Any] | None:
                    arns = ecs.list_tasks(cluster=name, desiredStatus="STOPPED")["taskArns"]
                    tasks = ecs.describe_tasks(cluster=name, tasks=arns, include=["TAGS"])
                    tag = {"key": "dagster/run_id", "value": run_id}
                    found = [t for t in tasks["tasks"] if tag in t.get("tags", [])]
                    return found[0] if found else None

                run_task = wait_for(stopped_run_task, 60, "the run's own ECS task", interval=0.5)
                assert run_task["containers"][0]["exitCode"] == 0
                keys = session.client("s3", endpoint_url=url).list_objects_v2(
                    Bucket=bucket, Prefix="repos/main/assets/"
                )
                assert keys.get("KeyCount", 0) > 0

                # add-repo to the tofu environment: tofu creates the location from the registry
                # (with the environment's applied variables), so a plan afterwards has nothing
                # to do; remove-repo has tofu delete it again.
                sales = dagster_repo(
                    tmp_path / "git" / "sales", "sales", {"sales_total": "return 6"}
                )
                added = run_cli(
                    tmp_path,
                    "repo",
                    "add",
                    *local,
                    "--url",
                    repo_url(sales),
                    "--name",
                    "sales",
                    timeout=900,
                )
                assert "tofu apply (local) from the registry" in added.stdout
                assert api.location_statuses() == {"main": "LOADED", "sales": "LOADED"}
                config = (
                    session.client("s3", endpoint_url=url)
                    .get_object(Bucket=bucket, Key="repos/sales/config.yml")["Body"]
                    .read()
                )
                assert b"grpc_port:" in config  # its own port: tasks share this host
                # The tofu environment's shape, as `make snapshot ENV=local` reads it.
                shape = tmp_path / "snapshot.json"
                run_cli(tmp_path, "snapshot", *local, "--out", str(shape), timeout=120)
                snapshot = Snapshot.read(shape)
                assert [s.name for s in snapshot.services] == [
                    "cl-main",
                    "cl-sales",
                    "daemon",
                    "webserver",
                ]
                location = {loc.name: loc for loc in snapshot.locations}["sales"]
                assert location.registry is not None
                assert location.registry["git_url"] == repo_url(sales)
                assert location.git_commit == git(sales, "rev-parse", "HEAD")
                (main_service,) = [s for s in snapshot.services if s.name == "cl-main"]
                assert main_service.scaling is not None
                assert main_service.cloud_map == [f"{name}.internal/main"]
                assert {loc.name: loc.dag_deployment for loc in snapshot.locations}[
                    "main"
                ] != "image"
                plan = runner.plan()
                assert plan.returncode == 0, plan.output
                assert f"{name}-cl-sales" in [
                    r["RoleName"]
                    for r in session.client("iam", endpoint_url=url).list_roles()["Roles"]
                ]
                # update-repo through tofu: the registry names the new image, tofu registers its
                # revision, the service rolls to it, and a plan afterwards has nothing to do.
                write_assets(sales, "sales", {"sales_total": "return 6", "sales_tax": "return 1"})
                new_commit = commit_all(sales, "tax")
                updated = run_cli(tmp_path, "repo", "update", "sales", *local, timeout=900)
                assert "tofu's revision" in updated.stdout, updated.stdout
                assert "sales_tax" in asset_names(api), updated.stdout
                assert api.location_statuses() == {"main": "LOADED", "sales": "LOADED"}
                config = (
                    session.client("s3", endpoint_url=url)
                    .get_object(Bucket=bucket, Key="repos/sales/config.yml")["Body"]
                    .read()
                )
                assert new_commit.encode() in config
                plan = runner.plan()
                assert plan.returncode == 0, plan.output
                run_cli(tmp_path, "repo", "remove", "sales", *local, timeout=600)
                wait_for(lambda: "sales" not in api.location_statuses(), 60, "sales gone")
                assert runner.plan().returncode == 0
                (gone,) = ecs.describe_services(cluster=name, services=["cl-sales"])["services"]
                assert gone["status"] != "ACTIVE"  # tofu deleted it (DRAINING, then INACTIVE)
            finally:
                drain(ecs, name, runtime_state)
                runner.destroy()
    assert not _tagged(settings), "a task process outlived the test"


NEW_ASSET = """

@asset(group_name="orders")
def deployed_through_tofu() -> int:
    return 1


all_assets = [*all_assets, deployed_through_tofu]
"""


def asset_names(api: DagsterApi) -> set[str]:
    data = api.query("{assetNodes{assetKey{path}}}")
    return {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}


def _cmdline(proc: psutil.Process) -> list[str]:
    """A process's command line; empty once it is gone (a retiring server child)."""
    try:
        return list(proc.cmdline())
    except psutil.Error:
        return []


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return dict(proc.environ())
    except psutil.Error:
        return {}


def dagster_servers(members: list[psutil.Process]) -> list[psutil.Process]:
    """The code server proxy (`dagster code-server start`) and its server child, oldest first."""
    found: list[tuple[float, psutil.Process]] = []
    for proc in members:
        command = _cmdline(proc)
        if not command or "dagster_code.dags_sync" in command:
            continue
        if Path(command[0]).name.startswith("python") or command[0].endswith("dagster"):
            with contextlib.suppress(psutil.Error):
                found.append((proc.create_time(), proc))
    return [proc for _, proc in sorted(found, key=lambda pair: pair[0])]


def code_location_processes(state_dir: Path) -> list[psutil.Process]:
    """Every live process of the task whose main process is a code server."""
    for pgid in task_pgids(state_dir):
        members = group_members(pgid)
        with contextlib.suppress(psutil.NoSuchProcess):
            if "code-server" in psutil.Process(pgid).cmdline():
                return members
    raise AssertionError("no code location task is running")


def _tagged(settings: StackSettings) -> list[int]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if proc.environ().get(STACK_TAG) == str(settings.state_dir):
                found.append(proc.pid)
    return found
