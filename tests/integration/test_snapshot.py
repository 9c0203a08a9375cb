"""`dagster-ecs snapshot` and `parity` against a real stack: the shape of what runs, read with the
least-privilege policy it documents, holding no secret value; parity against that snapshot finds
nothing until a task definition, a role policy or the DAGs change, then exactly those fields."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import dagster
import pytest

from repository_manager.dagster_api import DagsterApi
from repository_manager.repos.registry import Registry
from repository_manager.settings import CLUSTER_NAME, LOCAL_BUCKET
from repository_manager.snapshot.capture import take
from repository_manager.snapshot.model import Snapshot, SnapshotError
from repository_manager.snapshot.parity import fields
from repository_manager.snapshot.reader import Reader
from repository_manager.snapshot.restore import REGISTRABLE_KEYS
from tests.integration.conftest import wait_for
from tests.integration.repo_fixtures import commit_all, dagster_repo, git, url, write_assets
from tests.integration.stack_fixtures import LocalStack, finished_run, started_stack
from tests.integration.test_dag_sync import dag_package, extra_asset, probe_description

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("snapshot") / "state"
    with started_stack(state, DAG_SYNC_INTERVAL="1") as running:
        yield running


def _snapshot(stack: LocalStack, out: Path) -> Snapshot:
    taken = stack.dagster_ecs("snapshot", "--env", "dev", "--out", str(out), timeout=120)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert f"snapshot of dev written to {out}" in taken.stdout
    return Snapshot.read(out)


def _parity(stack: LocalStack, snapshot: Path) -> tuple[int, list[dict[str, str]]]:
    compared = stack.dagster_ecs(
        "parity", "--env", "dev", "--against", str(snapshot), "--json", timeout=120
    )
    assert compared.returncode in (0, 1), compared.stdout + compared.stderr
    return compared.returncode, json.loads(compared.stdout)


def test_a_snapshot_holds_the_stack_s_shape_and_no_secret_value(
    stack: LocalStack, tmp_path: Path
) -> None:
    api = DagsterApi(stack.url("webserver"))
    wait_for(lambda: api.location_statuses().get("main") == "LOADED", 120, "main to load")
    out = tmp_path / "snapshot.json"
    snapshot = _snapshot(stack, out)
    assert [s.name for s in snapshot.services] == ["cl-main", "daemon", "webserver"]
    (main,) = snapshot.locations
    assert (main.name, main.dag_deployment, main.dag_files) == ("main", "image", [])
    assert snapshot.instance is not None
    assert snapshot.instance.dagster_version == dagster.__version__
    assert main.dagster_versions is not None
    assert main.dagster_versions["dagster"] == dagster.__version__
    assert snapshot.instance.run_launcher["class"] == "EcsRunLauncher"
    served = stack.client("ecs").list_tasks(cluster=CLUSTER_NAME, serviceName="cl-main")
    assert main.served_by == [arn.rsplit("/", 1)[-1] for arn in served["taskArns"]]
    code_server = snapshot.services[0].task_definition
    role = next(r for r in snapshot.roles if r.arn == code_server.task_role)
    live = stack.client("iam").get_role_policy(
        RoleName=role.name, PolicyName=next(iter(role.inline))
    )
    assert role.inline[next(iter(role.inline))] == live["PolicyDocument"]
    secrets = code_server.containers[0].secrets
    assert secrets, "the code server's task definition names its secrets"
    assert set(snapshot.model_dump()["contents"]) >= {
        "never held: secret values, credentials, data objects",
        f"location main: image {main.image}, DAG deployment image (0 file(s)), registry entry none",
    }
    text = out.read_text()
    sm = stack.client("secretsmanager")
    for source in (s for s in secrets.values() if ":secretsmanager:" in s):
        arn = ":".join(source.split(":")[:7])
        value = sm.get_secret_value(SecretId=arn)["SecretString"]
        document = json.loads(value) if value.startswith("{") else {}
        private = [v for k, v in document.items() if re.search("password|secret|key", k)]
        assert private or not document, document.keys()
        for part in [value, *private]:
            assert str(part) not in text, "a secret value is in the snapshot"
    assert stack.credentials()["aws_secret_access_key"] not in text


def test_parity_finds_exactly_the_fields_changed_since_the_snapshot(
    stack: LocalStack, tmp_path: Path
) -> None:
    out = tmp_path / "before.json"
    _snapshot(stack, out)
    assert _parity(stack, out) == (0, [])

    ecs = stack.client("ecs")
    (service,) = ecs.describe_services(cluster=CLUSTER_NAME, services=["cl-main"])["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    registered = _with_variable(ecs, definition["taskDefinition"], "SNAPSHOT_PROBE", "on")
    ecs.update_service(cluster=CLUSTER_NAME, service="cl-main", taskDefinition=registered)
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER_NAME, services=["cl-main"], WaiterConfig={"Delay": 1, "MaxAttempts": 240}
    )
    dags = dag_package(tmp_path / "dags", "v2", {"added": extra_asset("added")})
    deployed = stack.dagster_ecs("dags", "deploy", "--location", "main", "--source", str(dags))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    iam = stack.client("iam")
    role = definition["taskDefinition"]["taskRoleArn"].rsplit("/", 1)[-1]
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    document["Statement"].append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}
    )
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))
    listed = stack.dagster_ecs("repo", "list", timeout=120)
    assert listed.returncode == 0, listed.stderr

    code, differences = _parity(stack, out)
    container = definition["taskDefinition"]["containerDefinitions"][0]["name"]
    assert code == 1
    role = role.replace(CLUSTER_NAME, "{stack}")
    assert [d["field"] for d in differences] == [
        "location main dag release",
        f"role {role} allow s3:GetObject on arn:aws:s3:::elsewhere/*",
        f"service cl-main container {container} env SNAPSHOT_PROBE",
    ], differences
    assert differences[2]["left"] == "on" and differences[2]["right"] == "—"
    assert differences[0]["right"] == "image"


def _with_variable(ecs: Any, definition: dict[str, Any], name: str, value: str) -> str:
    """Registers ``definition`` again with one more environment variable in its first container."""
    spec = {key: definition[key] for key in REGISTRABLE_KEYS if key in definition}
    spec["containerDefinitions"][0].setdefault("environment", []).append(
        {"name": name, "value": value}
    )
    return str(ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"])


def test_the_documented_policy_suffices_and_a_missing_action_is_named(stack: LocalStack) -> None:
    printed = stack.dagster_ecs("snapshot", "--env", "dev", "--print-policy", timeout=60)
    assert printed.returncode == 0, printed.stderr
    policy = json.loads(printed.stdout)
    iam = stack.client("iam")
    iam.create_user(UserName="snapshot-reader")
    iam.put_user_policy(
        UserName="snapshot-reader", PolicyName="read", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="snapshot-reader")["AccessKey"]
    session = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="ap-southeast-2",
    )
    reader = Reader(
        lambda service: session.client(service, endpoint_url=stack.url("emulator")), "dev"
    )

    def snapshot() -> Snapshot:
        return take(
            reader,
            region="ap-southeast-2",
            cluster=CLUSTER_NAME,
            bucket=LOCAL_BUCKET,
            endpoint=None,
        )

    as_reader = snapshot()
    assert as_reader.services and as_reader.roles and as_reader.locations

    for statement in policy["Statement"]:
        if "ecs:DescribeTaskDefinition" in statement["Action"]:
            statement["Action"].remove("ecs:DescribeTaskDefinition")
    iam.put_user_policy(
        UserName="snapshot-reader", PolicyName="read", PolicyDocument=json.dumps(policy)
    )
    with pytest.raises(SnapshotError) as refused:
        snapshot()
    assert str(refused.value).startswith(
        "the snapshot needs ecs:DescribeTaskDefinition, which environment dev refused"
    )
    assert fields(as_reader) == fields(snapshot_as_admin(stack))


def snapshot_as_admin(stack: LocalStack) -> Snapshot:
    reader = Reader(stack.client, "dev")
    return take(
        reader, region="ap-southeast-2", cluster=CLUSTER_NAME, bucket=LOCAL_BUCKET, endpoint=None
    )


def test_a_snapshot_of_another_format_is_one_line_and_exit_2(
    stack: LocalStack, tmp_path: Path
) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": 0, "services": []}))
    compared = stack.dagster_ecs("parity", "--env", "dev", "--against", str(old), timeout=60)
    assert compared.returncode == 2
    assert compared.stderr.strip().splitlines() == [
        f"error: {old} is snapshot format 0; this dagster-ecs reads format 1: take the snapshot "
        "again with this version"
    ]
    missing = tmp_path / "no-such-folder" / "s.json"
    written = stack.dagster_ecs("snapshot", "--env", "dev", "--out", str(missing), timeout=120)
    assert written.returncode == 1
    assert written.stderr.startswith(f"error: cannot write {missing}: folder ")
    assert not missing.parent.exists()


def test_restore_brings_the_stack_back_to_the_snapshot(stack: LocalStack, tmp_path: Path) -> None:
    """Four kinds of drift after a snapshot (a task definition's variable, a role's inline and
    managed policies, Auto Scaling, the DAGs served); restore undoes each, parity then finds
    nothing, and a second restore changes nothing."""
    v1 = dag_package(tmp_path / "v1", "v1", {"first": extra_asset("first")})
    deployed = stack.dagster_ecs("dags", "deploy", "--location", "main", "--source", str(v1))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    out = tmp_path / "restore-point.json"
    snapshot = _snapshot(stack, out)
    assert "first.py" in [f.path for f in snapshot.locations[0].dag_files]

    ecs = stack.client("ecs")
    (service,) = ecs.describe_services(cluster=CLUSTER_NAME, services=["cl-main"])["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    drifted = _with_variable(ecs, definition["taskDefinition"], "DRIFT", "yes")
    ecs.update_service(cluster=CLUSTER_NAME, service="cl-main", taskDefinition=drifted)
    role = definition["taskDefinition"]["taskRoleArn"].rsplit("/", 1)[-1]
    iam = stack.client("iam")
    extra = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=role, PolicyName="drift", PolicyDocument=json.dumps(extra))
    managed = iam.create_policy(PolicyName="drift-managed", PolicyDocument=json.dumps(extra))
    iam.attach_role_policy(RoleName=role, PolicyArn=managed["Policy"]["Arn"])
    stack.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER_NAME}/cl-main",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=3,
    )
    v2 = dag_package(tmp_path / "v2", "v2", {"second": extra_asset("second")})
    deployed = stack.dagster_ecs("dags", "deploy", "--location", "main", "--source", str(v2))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    code, differences = _parity(stack, out)
    container = definition["taskDefinition"]["containerDefinitions"][0]["name"]
    placeheld = role.replace(CLUSTER_NAME, "{stack}")
    assert code == 1
    assert [d["field"] for d in differences] == [
        "location main dag release",
        f"role {placeheld} allow sqs:SendMessage on *",
        f"role {placeheld} drift-managed: allow sqs:SendMessage on *",
        f"service cl-main container {container} env DRIFT",
        "service cl-main scaling",
    ], differences

    restored = stack.dagster_ecs("dev", "restore", str(out), timeout=900)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restored: no differences from the snapshot of dev" in restored.stdout
    for step in (
        f"role {role}: policies as in the snapshot (inline drift deleted, managed drift-managed "
        "detached)",
        "service cl-main: task definition and settings as in the snapshot",
        "location main: served in",
    ):
        assert step in restored.stdout, restored.stdout
    assert _parity(stack, out) == (0, [])
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert "drift" not in iam.list_role_policies(RoleName=role)["PolicyNames"]

    again = stack.dagster_ecs("dev", "restore", str(out), timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.strip().splitlines() == [
        "restored: no differences from the snapshot of dev"
    ], again.stdout


def test_restore_adds_a_removed_repository_back_at_its_recorded_commit(
    stack: LocalStack, tmp_path: Path
) -> None:
    sales = dagster_repo(tmp_path / "sales", "sales", {"orders": "return 1"})
    recorded = git(sales, "rev-parse", "HEAD")
    added = stack.dagster_ecs("repo", "add", "--url", url(sales), "--name", "sales", timeout=600)
    assert added.returncode == 0, added.stdout + added.stderr
    out = tmp_path / "with-sales.json"
    snapshot = _snapshot(stack, out)
    assert [loc.git_commit for loc in snapshot.locations if loc.name == "sales"] == [recorded]

    write_assets(sales, "sales", {"orders": "return 2", "refunds": "return 3"})
    moved = commit_all(sales, "second")
    removed = stack.dagster_ecs("repo", "remove", "sales", timeout=300)
    assert removed.returncode == 0, removed.stdout + removed.stderr

    restored = stack.dagster_ecs("dev", "restore", str(out), timeout=900)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"adding sales at {recorded[:12]}" in restored.stdout
    registry = Registry(stack.client("s3"), LOCAL_BUCKET)
    assert registry.names() == ["sales"]
    entry = registry.get("sales")
    assert entry is not None and entry[0].commit == recorded != moved
    code, differences = _parity(stack, out)
    assert (code, differences) == (0, []), differences


def test_a_failed_run_replays_the_same_failure_and_the_fix_replays_green(
    stack: LocalStack, tmp_path: Path
) -> None:
    broken = extra_asset("ledger").replace("return 1", "raise ValueError('ledger bug')")
    bad = dag_package(tmp_path / "bad", "bad", {"ledger": broken})
    deployed = stack.dagster_ecs("dags", "deploy", "--location", "main", "--source", str(bad))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    wait_for(lambda: probe_description(stack) == "bad", 120, "the webserver to show the bad DAGs")
    api = DagsterApi(stack.url("webserver"))
    run_id = api.launch_run("main", "__ASSET_JOB", tags={"team": "finance"})
    assert finished_run(api, run_id) == "FAILURE"

    out = tmp_path / "failed-run.json"
    taken = stack.dagster_ecs(
        "snapshot", "--env", "dev", "--out", str(out), "--run-id", run_id, timeout=120
    )
    assert taken.returncode == 0, taken.stdout + taken.stderr
    run = Snapshot.read(out).run
    assert run is not None and run.run_id == run_id
    assert (run.status, run.job, run.location, run.tags) == (
        "FAILURE",
        "__ASSET_JOB",
        "main",
        {"team": "finance"},
    )
    assert run.failure == "ledger: ValueError: ledger bug", run.failure
    served = Snapshot.read(out).locations[0]
    assert run.dag_release == served.dag_release

    good = dag_package(tmp_path / "good", "good", {"ledger": extra_asset("ledger")})
    deployed = stack.dagster_ecs("dags", "deploy", "--location", "main", "--source", str(good))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    wait_for(lambda: probe_description(stack) == "good", 120, "the webserver to show the fix")

    pinned = stack.dagster_ecs("replay", "--snapshot", str(out), "--run-id", run_id, timeout=900)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert "reproduced: the replay ends as the production run did" in pinned.stdout
    replays = [
        r
        for r in api.query("{runsOrError{... on Runs{results{runId tags{key value}}}}}")[
            "runsOrError"
        ]["results"]
        if {"key": "dagster-ecs/replay-of", "value": run_id} in r["tags"]
    ]
    assert len(replays) == 1 and {"key": "team", "value": "finance"} in replays[0]["tags"]

    fixed = stack.dagster_ecs("replay", "--snapshot", str(out), "--latest", timeout=900)
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "differs: the replay ends otherwise than the production run" in fixed.stdout
    assert "SUCCESS" in fixed.stdout

    wrong = stack.dagster_ecs("replay", "--snapshot", str(out), "--run-id", "nope", timeout=60)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        f"error: the snapshot holds run {run_id}, not nope: take it again with RUN_ID=nope"
    ]
    unknown = stack.dagster_ecs(
        "snapshot",
        "--env",
        "dev",
        "--out",
        str(tmp_path / "x.json"),
        "--run-id",
        "0000",
        timeout=60,
    )
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: environment dev has no run 0000 (RunNotFoundError)")
    assert not (tmp_path / "x.json").exists()


def test_a_restore_that_cannot_build_one_repository_adds_none(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The repositories are built side by side; one that fails its import check rolls back
    the other's clone, image, role, service and registry entry too."""
    names = ("orders", "broken")
    folders = {n: dagster_repo(tmp_path / n, n, {f"{n}_total": "return 1"}) for n in names}
    for name, folder in folders.items():
        added = stack.dagster_ecs("repo", "add", "--url", url(folder), "--name", name, timeout=600)
        assert added.returncode == 0, added.stdout + added.stderr
    out = tmp_path / "two.json"
    document = json.loads(_snapshot(stack, out).model_dump_json())
    for name in names:
        removed = stack.dagster_ecs("repo", "remove", name, timeout=300)
        assert removed.returncode == 0, removed.stdout + removed.stderr
    broken = folders["broken"]
    (broken / "broken" / "definitions.py").write_text("raise ImportError('broken at import')\n")
    commit = commit_all(broken, "broken at import")
    for location in document["locations"]:
        if location["name"] == "broken":
            location["registry"]["commit"] = commit
    out.write_text(json.dumps(document))
    ecs, registry = stack.client("ecs"), Registry(stack.client("s3"), LOCAL_BUCKET)
    before = (
        {r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]},
        registry.names(),
        sorted(ecs.list_services(cluster=CLUSTER_NAME)["serviceArns"]),
    )
    assert not set(names) & set(before[1])

    restored = stack.dagster_ecs("dev", "restore", str(out), timeout=900)
    assert restored.returncode == 1, restored.stdout + restored.stderr
    (line,) = restored.stderr.strip().splitlines()
    assert line.startswith("error:") and "broken at import" in line, line
    after = (
        {r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]},
        registry.names(),
        sorted(ecs.list_services(cluster=CLUSTER_NAME)["serviceArns"]),
    )
    assert after == before
    assert not (stack.state_dir / "repos" / "registered" / "orders.yml").exists()
