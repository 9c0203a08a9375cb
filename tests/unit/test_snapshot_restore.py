"""What a restore writes is the snapshot's value in the local stack's names, and it adds
repositories in an order their ``read_from`` allows; a bad registry entry is refused up front."""

from __future__ import annotations

import pytest

from repository_manager.snapshot.model import LocationShape, Snapshot, SnapshotError, secret_arn
from repository_manager.snapshot.restore import registry_configs
from repository_manager.snapshot.translate import Translator, port_map
from tests.unit.test_snapshot_parity import _environment


def test_a_value_is_rewritten_from_the_snapshot_s_names_to_the_local_ones() -> None:
    production = _environment("aws", "123456789012", "prod-stack", "prod-bucket")
    local = _environment("dev", "000000000000", "dagster-ecs", "dagster-ecs-local")
    translate = Translator.between(production, local)
    policy = {
        "Resource": [
            "arn:aws:s3:::prod-bucket/repos/sales/*",
            "arn:aws:iam::123456789012:role/prod-stack-cl-sales",
        ]
    }
    assert translate.value(policy) == {
        "Resource": [
            "arn:aws:s3:::dagster-ecs-local/repos/sales/*",
            "arn:aws:iam::000000000000:role/dagster-ecs-cl-sales",
        ]
    }
    translate.extra["arn:aws:secretsmanager:r:1:secret:db-AbC123"] = "LOCAL"
    assert translate.text("arn:aws:secretsmanager:r:1:secret:db-AbC123:password::") == (
        "LOCAL:password::"
    )


def test_ports_map_in_order_only_where_both_sides_have_as_many() -> None:
    ports = port_map([4000], [4123])
    assert ports == {4000: 4123}
    translate = Translator([])
    assert translate.text("dagster code-server start -p 4000 --x 14000", ports) == (
        "dagster code-server start -p 4123 --x 14000"
    )
    assert port_map([4000, 4001], [4123]) == {}


def _with_locations(*registries: dict[str, object]) -> Snapshot:
    snapshot = _environment("aws", "1", "s", "b")
    return snapshot.model_copy(
        update={
            "locations": [
                LocationShape(name=str(r["name"]), image="i", registry=r) for r in registries
            ]
        }
    )


def test_repositories_are_added_after_those_they_read_from() -> None:
    url = "https://example.com/x.git"
    snapshot = _with_locations(
        {"name": "reports", "git_url": url, "read_from": ["sales"]},
        {"name": "sales", "git_url": url, "commit": "a" * 40, "image": "old", "grpc_port": 4100},
    )
    configs = registry_configs(snapshot)
    assert [c.name for c in configs] == ["sales", "reports"]
    assert (configs[0].commit, configs[0].image, configs[0].grpc_port) == ("a" * 40, None, None)


def test_a_bad_registry_entry_is_refused_before_anything_happens() -> None:
    snapshot = _with_locations({"name": "Bad Name", "git_url": "https://example.com/x.git"})
    with pytest.raises(SnapshotError, match="registry entry of Bad Name is not valid here"):
        registry_configs(snapshot)


def test_a_run_s_failure_is_its_first_failed_step_and_error_line() -> None:
    from repository_manager.snapshot.runs import _failure

    events = [
        {"__typename": "RunStartEvent"},
        {
            "__typename": "ExecutionStepFailureEvent",
            "stepKey": "ledger",
            "error": {
                "message": 'DagsterExecutionStepExecutionError: Error occurred in op "ledger":\n',
                "causes": [{"message": "ValueError: ledger bug\n  File x, line 3\n"}],
            },
        },
        {"__typename": "ExecutionStepFailureEvent", "stepKey": "later", "error": {"message": "x"}},
        {"__typename": "RunFailureEvent", "message": "Execution of run failed."},
    ]
    assert _failure(events) == "ledger: ValueError: ledger bug"
    assert _failure(events[-1:]) == "run: Execution of run failed."
    assert _failure(events[:1]) is None


def test_replay_refuses_a_snapshot_without_the_run_asked_for() -> None:
    from repository_manager.snapshot.model import RunShape
    from repository_manager.snapshot.replay import the_run

    snapshot = _environment("aws", "1", "s", "b")
    with pytest.raises(SnapshotError, match="holds no run: take it with `make snapshot"):
        the_run(snapshot, None)
    run = RunShape(run_id="abc", status="FAILURE", location="main", job="j")
    held = snapshot.model_copy(update={"run": run})
    assert the_run(held, None) is run
    with pytest.raises(SnapshotError, match="holds run abc, not xyz: take it again with RUN_ID"):
        the_run(held, "xyz")


def test_a_run_on_the_image_s_dags_replays_only_on_an_image_of_the_same_commit() -> None:
    from repository_manager.snapshot.model import RunShape
    from repository_manager.snapshot.replay import image_mismatch

    recorded, other = "a" * 40, "b" * 40
    run = RunShape(run_id="r1", status="FAILURE", location="ledger", job="j", git_commit=recorded)
    assert image_mismatch(run, recorded) is None
    assert image_mismatch(run, other) == (
        "run r1 ran on ledger's image of commit aaaaaaaaaaaa, and ledger here is at commit "
        "bbbbbbbbbbbb: restore the snapshot first (`make dev SNAPSHOT=…`), or replay on what it "
        "serves now with --latest"
    )
    assert "and ledger here is not registered:" in (image_mismatch(run, None) or "")
    platform_run = run.model_copy(update={"git_commit": None, "location": "main"})
    assert image_mismatch(platform_run, None) is None


def test_a_secret_source_names_its_secret_without_key_stage_or_version() -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:db-AbC123"
    assert secret_arn(arn) == arn
    assert secret_arn(f"{arn}:password::") == arn
    assert secret_arn(f"{arn}:password:AWSPREVIOUS:") == arn
