"""Reproducing a production failure locally, end to end, as issue 13 describes it.

"Production" is a second stack's emulator (its own ports, IAM enforced) with the project's
OpenTofu modules applied to it (`infra apply --env local`), a repository added to it and DAGs
deployed to it. A run fails there for two reasons in turn: a code bug in the image's DAGs, then
(after the fix is deployed) a task-role policy that denies the asset's write. Each failure is
snapshotted; the local stack brought up from the snapshot replays the run to the same error,
and replays green once the cause is fixed locally. Parity is zero right after each restore and
exactly the changed field after a change.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from repository_manager.dagster_api import DagsterApi
from repository_manager.infra.runner import TF_PORT_OFFSET
from repository_manager.settings import CLUSTER_NAME
from repository_manager.snapshot.model import Snapshot
from tests.integration.conftest import wait_for
from tests.integration.repo_fixtures import commit_all, git, url
from tests.integration.stack_fixtures import LocalStack, finished_run, make_stack, started_stack

pytestmark = pytest.mark.integration

DENY = "freeze-ledger"


def _definitions(folder: Path, body: str, description: str) -> Path:
    """The ``ledger`` package: one asset, ``entries``, whose description names the version."""
    (folder / "ledger").mkdir(parents=True, exist_ok=True)
    (folder / "ledger" / "__init__.py").write_text("")
    (folder / "ledger" / "definitions.py").write_text(
        "from dagster import Definitions, asset\n\n\n"
        f"@asset(description={description!r})\n"
        f"def entries() -> int:\n    {body}\n\n\n"
        "defs = Definitions(assets=[entries])\n"
    )
    return folder


def _description(api: DagsterApi) -> str | None:
    data = api.query("{assetNodes{assetKey{path} description}}")
    found = [n["description"] for n in data["assetNodes"] if n["assetKey"]["path"] == ["entries"]]
    return found[0] if found else None


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


def _snapshot(stack: LocalStack, out: Path, run_id: str, *env: str) -> Snapshot:
    taken = stack.dagster_ecs("snapshot", *env, "--out", str(out), "--run-id", run_id, timeout=180)
    _ok(taken)
    return Snapshot.read(out)


def _parity(stack: LocalStack, snapshot: Path) -> tuple[int, list[str]]:
    compared = stack.dagster_ecs(
        "parity", "--env", "dev", "--against", str(snapshot), "--json", timeout=180
    )
    assert compared.returncode in (0, 1), compared.stdout + compared.stderr
    return compared.returncode, [d["field"] for d in json.loads(compared.stdout)]


def _replay(stack: LocalStack, snapshot: Path, *args: str) -> tuple[int, str]:
    replayed = stack.dagster_ecs("replay", "--snapshot", str(snapshot), *args, timeout=900)
    assert replayed.returncode in (0, 1), replayed.stdout + replayed.stderr
    return replayed.returncode, replayed.stdout


@pytest.mark.timeout(3000)  # two stacks, a tofu apply, an add-repo and a restore each, 6 runs
def test_a_production_failure_reproduces_locally_and_its_fix_replays_green(
    tmp_path: Path,
) -> None:
    repo = _definitions(tmp_path / "ledger", "raise ValueError('ledger bug')", "v1")
    git(repo, "init", "-q", "-b", "main")
    (repo / "requirements.txt").write_text("six\n")
    commit = commit_all(repo, "ledger v1")
    fix = _definitions(tmp_path / "fix", "return 1", "v2")
    code_bug, denied = tmp_path / "code-bug.json", tmp_path / "denied.json"

    with started_stack(tmp_path / "production") as host:
        ecs = host.client("ecs")
        for service in ("cl-main", "daemon", "webserver"):
            ecs.update_service(cluster=CLUSTER_NAME, service=service, desiredCount=0)
        _ok(host.dagster_ecs("infra", "apply", "--env", "local", timeout=1200))
        prod = ("--env", "local")
        api = DagsterApi(f"http://127.0.0.1:{host.port('webserver') + TF_PORT_OFFSET}")
        added = host.dagster_ecs(
            "repo", "add", *prod, "--url", url(repo), "--name", "ledger", timeout=1200
        )
        _ok(added)

        first = api.launch_run("ledger", "__ASSET_JOB")
        assert finished_run(api, first, timeout=300) == "FAILURE"
        run = _snapshot(host, code_bug, first, *prod).run
        assert run is not None and run.failure == "entries: ValueError: ledger bug", run
        assert (run.location, run.git_commit, run.dag_release) == ("ledger", commit, None)

        deployed = host.dagster_ecs(
            "dags",
            "deploy",
            *prod,
            "--location",
            "ledger",
            "--source",
            str(fix / "ledger"),
            timeout=300,
        )
        _ok(deployed)
        wait_for(lambda: _description(api) == "v2", 180, "production to serve the fix")
        iam = host.client("iam")
        role = "dagster-ecs-tf-cl-ledger"
        assert role in {r["RoleName"] for r in iam.list_roles()["Roles"]}
        deny = {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::dagster-ecs-tf-local/repos/ledger/assets/*",
        }
        iam.put_role_policy(
            RoleName=role,
            PolicyName=DENY,
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
        )
        second = api.launch_run("ledger", "__ASSET_JOB")
        assert finished_run(api, second, timeout=300) == "FAILURE"
        run = _snapshot(host, denied, second, *prod).run
        assert run is not None and run.failure is not None and "AccessDenied" in run.failure
        assert run.dag_release is not None

    local = make_stack(tmp_path / "local")
    try:
        up = local.cli("up", "--snapshot", str(code_bug), timeout=1800)
        _ok(up)
        assert f"adding ledger at {commit[:12]}" in up.stdout, up.stdout
        assert _parity(local, code_bug) == (0, [])

        code, out = _replay(local, code_bug, "--run-id", first)
        assert code == 0 and "reproduced" in out and "ledger bug" in out, out
        assert f"pinned to the image's own DAGs of commit {commit[:12]}" in out, out

        deployed = local.dagster_ecs(
            "dags", "deploy", "--location", "ledger", "--source", str(fix / "ledger"), timeout=300
        )
        _ok(deployed)
        wait_for(
            lambda: _description(DagsterApi(local.url("webserver"))) == "v2",
            180,
            "the local stack to serve the fix",
        )
        code, out = _replay(local, code_bug, "--run-id", first)
        assert code == 0 and "ledger bug" in out, out
        code, out = _replay(local, code_bug, "--latest")
        assert code == 1 and "SUCCESS" in out, out

        restored = local.cli("restore", str(denied), timeout=1800)
        _ok(restored)
        assert _parity(local, denied) == (0, [])
        code, out = _replay(local, denied, "--run-id", second)
        assert code == 0 and "AccessDenied" in out, out

        local.client("iam").delete_role_policy(RoleName="dagster-ecs-cl-ledger", PolicyName=DENY)
        code, out = _replay(local, denied, "--run-id", second)
        assert code == 1 and "SUCCESS" in out, out
        grant = "deny s3:PutObject on arn:aws:s3:::{bucket}/repos/ledger/assets/*"
        assert _parity(local, denied) == (1, [f"role {{stack}}-cl-ledger {grant}"])
    finally:
        local.cli("stop")
    assert local.processes() == [], "processes left behind after `dev stop`"
