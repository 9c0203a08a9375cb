"""Repositories as code locations on a real dev stack: add, run, list, remove, bad input.

Every repository here is a real Git repository the test creates; the stack is real (emulator,
PostgreSQL, ECS runtime, Dagster processes).
"""

from __future__ import annotations

import ipaddress
import json
import pickle
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from repository_manager.dagster_api import DagsterApi
from tests.integration.conftest import free_port, wait_for
from tests.integration.repo_fixtures import commit_all, dagster_repo, url, write_assets
from tests.integration.stack_fixtures import CLI, LocalStack, started_stack

pytestmark = pytest.mark.integration
BUCKET = "dagster-ecs-local"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with started_stack(tmp_path_factory.mktemp("repos") / "state") as running:
        yield running


@pytest.fixture(scope="module")
def sales(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dagster_repo(
        tmp_path_factory.mktemp("git") / "sales",
        "sales",
        {"sales_orders": "return [1, 2, 3]", "sales_total": "return 6"},
    )


def _client(stack: LocalStack, service: str) -> Any:
    return stack.client(service)


def _repo(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "repo", *args], env=stack.env, capture_output=True, text=True, timeout=600
    )


def _dagster_pids(stack: LocalStack) -> dict[str, int]:
    found = {}
    for proc in stack.processes():
        try:
            line = " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
        for name, marker in (
            ("dagster-webserver", "dagster_code.webserver"),
            ("dagster-daemon", "dagster-daemon"),
        ):
            if marker in line and "repository_manager.workspace" not in line:
                found.setdefault(name, proc.pid)
    return found


def _code_server_pid(stack: LocalStack, location: str) -> int:
    """The process serving ``location``'s definitions: the child ``dagster api grpc`` of its
    ``dagster code-server start`` (which a reload of the location replaces)."""
    for proc in stack.processes():
        try:
            line = proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        if (
            "grpc" in line
            and "--location-name" in line
            and line[line.index("--location-name") + 1 :][:1] == [location]
        ):
            return proc.pid
    raise AssertionError(f"no code server of {location} runs")


def _snapshot(stack: LocalStack) -> dict[str, Any]:
    """Every kind of resource a repository can create, by name."""
    ecs, iam, logs = _client(stack, "ecs"), _client(stack, "iam"), _client(stack, "logs")
    sd, ecr, s3 = _client(stack, "servicediscovery"), _client(stack, "ecr"), _client(stack, "s3")
    scaling = _client(stack, "application-autoscaling")
    services = ecs.list_services(cluster="dagster-ecs")["serviceArns"]
    return {
        "services": sorted(
            s["serviceName"]
            for s in ecs.describe_services(cluster="dagster-ecs", services=services)["services"]
            if s["status"] == "ACTIVE"
        ),
        "families": sorted(
            {
                arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
                for arn in ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
            }
        ),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "log_groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
        "cloud_map": sorted(s["Name"] for s in sd.list_services()["Services"]),
        "ecr": sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"]),
        "scaling": sorted(
            t["ResourceId"]
            for t in scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
        ),
        "registry": sorted(
            o["Key"]
            for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="repos/").get("Contents", [])
            if o["Key"].endswith("config.yml")
        ),
        "locks": s3.list_objects_v2(Bucket=BUCKET, Prefix="registry/").get("KeyCount", 0),
    }


def _run(stack: LocalStack, location: str) -> tuple[str, str]:
    api = DagsterApi(stack.url("webserver"))
    run_id = api.launch_run(location, "__ASSET_JOB")
    status = wait_for(
        lambda: (s := api.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s,
        180,
        f"the run of {location}",
        interval=0.5,
    )
    return run_id, str(status)


def _materialize(stack: LocalStack, location: str) -> str:
    run_id, status = _run(stack, location)
    assert status == "SUCCESS", f"run {run_id} of {location}: {status}"
    return run_id


def _run_errors(stack: LocalStack, run_id: str) -> str:
    data = DagsterApi(stack.url("webserver")).query(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection { events {
        __typename ... on ExecutionStepFailureEvent { error { message cause { message } } }
        } } } } }""",
        {"id": run_id},
    )
    events = data["runOrError"]["eventConnection"]["events"]
    return json.dumps([e for e in events if e.get("error")])


def _step_logs(stack: LocalStack, run_id: str) -> str:
    """The stdout and stderr the webserver serves for each of the run's captured logs."""
    api = DagsterApi(stack.url("webserver"))
    events = api.query(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection { events {
        __typename ... on LogsCapturedEvent { fileKey } } } } } }""",
        {"id": run_id},
    )["runOrError"]["eventConnection"]["events"]
    keys = [e["fileKey"] for e in events if e["__typename"] == "LogsCapturedEvent"]
    assert keys, "the run captured no logs"
    text = ""
    for key in keys:
        logs = api.query(
            "query($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }",
            {"key": [run_id, "compute_logs", key]},
        )["capturedLogs"]
        text += (logs["stdout"] or "") + (logs["stderr"] or "")
    return text


def test_add_run_and_remove_a_repository(stack: LocalStack, sales: Path) -> None:
    before = _snapshot(stack)
    pids = _dagster_pids(stack)
    assert set(pids) == {"dagster-webserver", "dagster-daemon"}
    main_server = _code_server_pid(stack, "main")

    added = _repo(stack, "add", "--url", url(sales), "--name", "sales")
    assert added.returncode == 0, added.stdout + added.stderr
    assert _code_server_pid(stack, "main") == main_server, "adding sales restarted main's server"
    assert "location sales LOADED in the webserver" in added.stdout
    api = DagsterApi(stack.url("webserver"))
    assert api.location_statuses() == {"main": "LOADED", "sales": "LOADED"}
    assets = api.query("{assetNodes{assetKey{path}}}")["assetNodes"]
    assert {"sales_orders", "sales_total"} <= {a["assetKey"]["path"][-1] for a in assets}

    listeners = stack.listeners()
    outside = [(a, p) for a, p, _ in listeners if not ipaddress.ip_address(a).is_loopback]
    assert outside == [], f"listening beyond loopback: {outside}"
    definition = _client(stack, "ecs").describe_task_definition(
        taskDefinition="dagster-ecs-cl-sales"
    )["taskDefinition"]
    grpc_port = definition["containerDefinitions"][0]["portMappings"][0]["containerPort"]
    sales_listeners = [a for a, p, _ in listeners if p == grpc_port]
    assert sales_listeners and all(a.startswith("127.1.") for a in sales_listeners), listeners

    after = _snapshot(stack)
    assert set(after["services"]) - set(before["services"]) == {"cl-sales"}
    assert set(after["roles"]) - set(before["roles"]) == {"dagster-ecs-cl-sales"}
    assert after["registry"] == ["repos/sales/config.yml"]
    assert after["scaling"] == ["service/dagster-ecs/cl-sales"]
    assert after["locks"] == 0

    policy = _client(stack, "iam").get_role_policy(
        RoleName="dagster-ecs-cl-sales", PolicyName="repo-sales"
    )["PolicyDocument"]
    statements = (
        policy["Statement"] if isinstance(policy, dict) else json.loads(policy)["Statement"]
    )
    writable = [s for s in statements if s["Effect"] == "Allow" and "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in writable] == [f"arn:aws:s3:::{BUCKET}/repos/sales/*"]

    run_id = _materialize(stack, "sales")
    keys = [
        o["Key"]
        for o in _client(stack, "s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
        if run_id in o["Key"] or "/assets/" in o["Key"]
    ]
    assert {"repos/sales/assets/sales_orders", "repos/sales/assets/sales_total"} <= set(keys)
    assert all(k.startswith("repos/sales/") for k in keys if run_id in k), keys
    assert any(k.startswith(f"repos/sales/logs/storage/{run_id}/") for k in keys), keys
    assert "sales_orders" in _step_logs(stack, run_id), "the UI shows none of the run's logs"
    ecs = _client(stack, "ecs")

    def run_tasks() -> list[dict[str, Any]]:
        arns = [
            arn
            for status in ("RUNNING", "STOPPED")
            for arn in ecs.list_tasks(cluster="dagster-ecs", desiredStatus=status)["taskArns"]
        ]
        tasks = ecs.describe_tasks(cluster="dagster-ecs", tasks=arns)["tasks"] if arns else []
        return [t for t in tasks if t["group"].startswith("family:run_sales")]

    runs = wait_for(run_tasks, 30, "the run's own ECS task")
    run_definition = ecs.describe_task_definition(taskDefinition=runs[0]["taskDefinitionArn"])
    assert run_definition["taskDefinition"]["taskRoleArn"].endswith("role/dagster-ecs-cl-sales")

    listed = _repo(stack, "list")
    assert listed.returncode == 0
    assert "sales" in listed.stdout and "LOADED" in listed.stdout

    removed = _repo(stack, "remove", "sales", "--purge")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    wait_for(lambda: "sales" not in api.location_statuses(), 60, "the location gone")
    final = _snapshot(stack)
    for kind in ("services", "roles", "log_groups", "cloud_map", "ecr", "scaling", "registry"):
        assert final[kind] == before[kind], kind
    assert not [f for f in final["families"] if "sales" in f], final["families"]
    left = _client(stack, "s3").list_object_versions(Bucket=BUCKET, Prefix="repos/sales/")
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    assert _dagster_pids(stack) == pids, "the webserver or daemon restarted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "Sales"), "lowercase"),
        (("--name", "main"), "reserved"),
        (("--name", "../x"), "lowercase"),
        (("--name", "-x"), "lowercase"),
        (("--name", "a" * 40), "32"),
        (("--url", "https://user:secret@example.com/r.git"), "credential"),
        (("--branch", "nope"), "branch"),
        (("--url", "file:///nonexistent/repo"), "not"),
        (("--python-file", "nowhere.py"), "nowhere.py"),
        (("--read-from", "ghost"), "'ghost', not registered here"),
        (("--read-from", "bad"), "cannot read from itself"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    stack: LocalStack, sales: Path, args: tuple[str, ...], message: str
) -> None:
    before = _snapshot(stack)
    defaults = {"--url": url(sales), "--name": "bad"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    flags = [item for key, value in {**defaults, **given}.items() for item in (key, value)]
    result = _repo(stack, "add", *flags)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stdout
    assert len(lines) == 1, result.stderr
    assert message in lines[0].lower() or message in lines[0], lines[0]
    assert "secret" not in result.stdout + result.stderr
    assert _snapshot(stack) == before


def test_a_failure_after_creating_resources_rolls_back(stack: LocalStack, sales: Path) -> None:
    """An IAM role of the name already exists (someone else's): add-repo fails at that step and
    removes what it made before it (the ECR repository, the clone), nothing else."""
    iam = _client(stack, "iam")
    iam.create_role(RoleName="dagster-ecs-cl-clash", AssumeRolePolicyDocument="{}")
    try:
        before = _snapshot(stack)
        result = _repo(stack, "add", "--url", url(sales), "--name", "clash")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "error: IAM role dagster-ecs-cl-clash already exists: another stack or a "
            "half-removed repository owns it; remove it (`make remove-repo REPO_NAME=clash`) "
            "first"
        ]
        assert "rolled back ECR repository dagster-ecs-repos/clash" in result.stdout
        assert _snapshot(stack) == before
        assert not (stack.state_dir / "repos" / "checkouts" / "clash").exists()
    finally:
        iam.delete_role(RoleName="dagster-ecs-cl-clash")


def test_two_adds_of_one_name_at_once_one_wins(stack: LocalStack, sales: Path) -> None:
    first, second = (
        subprocess.Popen(
            [CLI, "repo", "add", "--url", url(sales), "--name", "twin"],
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    )
    results = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    (loser,) = [err for code, _, err in results if code == 1]
    assert len(loser.strip().splitlines()) == 1
    assert "is being changed by another command" in loser or "already registered" in loser
    assert _snapshot(stack)["registry"] == ["repos/twin/config.yml"]
    removed = _repo(stack, "remove", "twin")
    assert removed.returncode == 0, removed.stderr


def test_iam_confines_a_repository_to_its_own_prefix(stack: LocalStack, tmp_path: Path) -> None:
    """A repository's code that writes into another repository's prefix is denied by IAM (the
    stack enforces it, as AWS does); its own prefix it may write."""
    rogue = dagster_repo(
        tmp_path / "rogue",
        "rogue",
        {
            "own_object": "import boto3, os; boto3.client('s3').put_object("
            "Bucket=os.environ['DAGSTER_S3_BUCKET'], Key='repos/rogue/mine', Body=b'x')",
            "hijack": "import boto3, os; boto3.client('s3').put_object("
            "Bucket=os.environ['DAGSTER_S3_BUCKET'], Key='repos/victim/stolen', Body=b'x')",
        },
    )
    added = _repo(stack, "add", "--url", url(rogue), "--name", "rogue")
    assert added.returncode == 0, added.stdout + added.stderr
    try:
        run_id, status = _run(stack, "rogue")
        assert status == "FAILURE"
        errors = _run_errors(stack, run_id)
        assert 'op \\"hijack\\"' in errors and "AccessDenied" in errors, errors
        assert "when calling the PutObject operation" in errors, errors
        s3 = _client(stack, "s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert "repos/rogue/mine" in keys
        assert "repos/victim/stolen" not in keys
    finally:
        removed = _repo(stack, "remove", "rogue", "--purge")
        assert removed.returncode == 0, removed.stderr


def test_read_from_grants_another_repository_s_assets_and_nothing_else(
    stack: LocalStack, tmp_path: Path
) -> None:
    """`read_from: [ledger]` lets reports read ledger's assets (IAM), not the rest of its
    prefix; a repository without it may not read them at all."""
    ledger = dagster_repo(tmp_path / "ledger", "ledger", {"ledger_total": "return 42"})
    read = (
        "import boto3, os, pickle; s3 = boto3.client('s3'); b = os.environ['DAGSTER_S3_BUCKET']"
        "; return pickle.loads(s3.get_object(Bucket=b, Key='repos/ledger/assets/ledger_total')"
        "['Body'].read())"
    )
    config = (
        "import boto3, botocore, os; s3 = boto3.client('s3')\n    try:\n        "
        "s3.get_object(Bucket=os.environ['DAGSTER_S3_BUCKET'], Key='repos/ledger/config.yml')"
        "\n    except botocore.exceptions.ClientError as error:\n        "
        "return error.response['Error']['Code']\n    return 'read'"
    )
    reports = dagster_repo(
        tmp_path / "reports", "reports", {"copied_total": read, "ledger_config": config}
    )
    outsider = dagster_repo(tmp_path / "outsider", "outsider", {"peeked_total": read})
    names = ("ledger", "reports", "outsider")
    assert _repo(stack, "add", "--url", url(ledger), "--name", "ledger").returncode == 0
    try:
        _materialize(stack, "ledger")
        added = _repo(
            stack, "add", "--url", url(reports), "--name", "reports", "--read-from", "ledger"
        )
        assert added.returncode == 0, added.stdout + added.stderr
        added = _repo(stack, "add", "--url", url(outsider), "--name", "outsider")
        assert added.returncode == 0, added.stdout + added.stderr

        _materialize(stack, "reports")
        run_id, status = _run(stack, "outsider")

        s3 = _client(stack, "s3")

        def stored(key: str) -> object:
            return pickle.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        assert stored("repos/reports/assets/copied_total") == 42
        assert stored("repos/reports/assets/ledger_config") == "AccessDenied"
        assert status == "FAILURE"
        assert "AccessDenied" in _run_errors(stack, run_id)
    finally:
        for name in names:
            _repo(stack, "remove", name, "--purge")


def test_update_rolls_a_new_commit_and_nothing_else(stack: LocalStack, tmp_path: Path) -> None:
    folder = dagster_repo(tmp_path / "growing", "growing", {"first_asset": "return 1"})
    added = _repo(stack, "add", "--url", url(folder), "--name", "growing")
    assert added.returncode == 0, added.stdout + added.stderr
    pids = _dagster_pids(stack)
    try:
        unchanged = _repo(stack, "update", "growing")
        assert unchanged.returncode == 0, unchanged.stderr
        assert "nothing to do" in unchanged.stdout
        write_assets(folder, "growing", {"first_asset": "return 1", "second_asset": "return 2"})
        commit = commit_all(folder, "second asset")
        updated = _repo(stack, "update", "growing")
        assert updated.returncode == 0, updated.stdout + updated.stderr
        assert f"updated to {commit[:12]}" in updated.stdout
        service = _client(stack, "ecs").describe_services(
            cluster="dagster-ecs", services=["cl-growing"]
        )["services"][0]
        assert service["taskDefinition"].endswith("dagster-ecs-cl-growing:2")
        api = DagsterApi(stack.url("webserver"))
        names = {
            a["assetKey"]["path"][-1]
            for a in api.query("{assetNodes{assetKey{path}}}")["assetNodes"]
        }
        assert {"first_asset", "second_asset"} <= names
        registered = (
            _client(stack, "s3")
            .get_object(Bucket=BUCKET, Key="repos/growing/config.yml")["Body"]
            .read()
            .decode()
        )
        assert f"commit: {commit}" in registered
        assert _dagster_pids(stack) == pids
    finally:
        removed = _repo(stack, "remove", "growing")
        assert removed.returncode == 0, removed.stderr


@pytest.fixture
def service(stack: LocalStack) -> Iterator[tuple[str, str]]:
    """The Repository Manager Service as a real process on a free port; (URL, token)."""
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "repo", "serve", "--port", str(port)],
        env=stack.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/openapi.json", timeout=2).ok, 60, "the service")
        token = _client(stack, "secretsmanager").get_secret_value(
            SecretId="dagster-ecs/repository-manager-token"
        )["SecretString"]
        yield base, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_rest_api_adds_lists_and_removes(
    stack: LocalStack, sales: Path, service: tuple[str, str]
) -> None:
    base, token = service
    auth = {"Authorization": f"Bearer {token}"}
    schema = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert {"/repos", "/repos/{name}", "/operations/{operation_id}"} <= set(schema["paths"])
    assert requests.get(f"{base}/repos", timeout=10).status_code == 401
    wrong = requests.get(f"{base}/repos", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401

    before = _snapshot(stack)
    for body, status, text in (
        ({"name": "Bad", "git_url": url(sales)}, 400, "lowercase"),
        ({"name": "main", "git_url": url(sales)}, 400, "reserved"),
        ({"name": "api", "git_url": "https://u:secret@example.com/r.git"}, 400, "credential"),
        ({"git_url": url(sales)}, 422, "name"),
    ):
        refused = requests.post(f"{base}/repos", json=body, headers=auth, timeout=30)
        assert refused.status_code == status, refused.text
        detail = refused.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and text in detail.lower(), detail
        assert "secret" not in refused.text
    assert _snapshot(stack) == before

    accepted = requests.post(
        f"{base}/repos", json={"name": "api", "git_url": url(sales)}, headers=auth, timeout=30
    )
    assert accepted.status_code == 202, accepted.text
    done = wait_for(
        lambda: (
            (op := requests.get(accepted.json()["url"], headers=auth, timeout=10).json())["status"]
            != "running"
            and op
        ),
        300,
        "the add operation",
        interval=0.5,
    )
    assert done["status"] == "succeeded", done
    assert "location api LOADED in the webserver" in done["progress"]
    again = requests.post(
        f"{base}/repos", json={"name": "api", "git_url": url(sales)}, headers=auth, timeout=30
    )
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    listed = requests.get(f"{base}/repos", headers=auth, timeout=30).json()
    assert [row["name"] for row in listed] == ["api"]
    assert requests.get(f"{base}/repos/nope", headers=auth, timeout=10).status_code == 404

    removing = requests.delete(f"{base}/repos/api", headers=auth, timeout=30)
    assert removing.status_code == 202
    removed = wait_for(
        lambda: (
            (op := requests.get(removing.json()["url"], headers=auth, timeout=10).json())["status"]
            != "running"
            and op
        ),
        300,
        "the remove operation",
        interval=0.5,
    )
    assert removed["status"] == "succeeded", removed
    assert _snapshot(stack)["services"] == before["services"]


def test_dev_with_repos_adds_them_again_after_a_restart(stack: LocalStack, sales: Path) -> None:
    """The emulator's registry lives in memory; the stack remembers what it had registered."""
    added = _repo(stack, "add", "--url", url(sales), "--name", "keeper")
    assert added.returncode == 0, added.stdout + added.stderr
    assert stack.cli("stop").returncode == 0
    again = stack.cli("up", "--with-repos", timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "location keeper LOADED in the webserver" in again.stdout
    api = DagsterApi(stack.url("webserver"))
    assert api.location_statuses() == {"main": "LOADED", "keeper": "LOADED"}
    assert _snapshot(stack)["registry"] == ["repos/keeper/config.yml"]
    removed = _repo(stack, "remove", "keeper")
    assert removed.returncode == 0, removed.stderr
    assert not (stack.state_dir / "repos" / "registered" / "keeper.yml").exists()
