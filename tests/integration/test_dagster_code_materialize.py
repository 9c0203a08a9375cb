"""A code location materializes into the emulator's S3, only under its own repository prefix."""

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from dagster import RunRequest, SensorResult, SkipReason, build_sensor_context

from dagster_code.location import build_definitions

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "dagster-ecs-local"
DAGSTER = str(Path(sys.executable).parent / "dagster")


def all_keys(s3, bucket: str) -> set[str]:  # type: ignore[no-untyped-def]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def bucket(aws_env: str) -> Iterator[str]:
    """The platform bucket; objects a test adds are deleted afterwards."""
    s3 = boto3.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
        )
    before = all_keys(s3, BUCKET)
    yield BUCKET
    for key in all_keys(s3, BUCKET) - before:
        s3.delete_object(Bucket=BUCKET, Key=key)


def test_main_assets_job_writes_only_under_repos_main(aws_env: str, bucket: str) -> None:
    s3 = boto3.client("s3")
    before = all_keys(s3, bucket)
    with tempfile.TemporaryDirectory(prefix="dagster-home-") as dagster_home:
        env = {
            **os.environ,
            "DAGSTER_HOME": dagster_home,
            "DAGSTER_S3_BUCKET": bucket,
            "DAGSTER_REPO_NAME": "main",
            "AWS_ENDPOINT_URL": aws_env,
        }
        env.pop("DAGS_DIR", None)
        proc = subprocess.run(
            [DAGSTER, "job", "execute", "-m", "dagster_code.definitions", "-j", "main_assets_job"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "RUN_SUCCESS" in proc.stderr + proc.stdout

    written = all_keys(s3, bucket) - before
    expected = {
        f"repos/main/assets/{name}" for name in ("raw_orders", "cleaned_orders", "order_summary")
    }
    assert expected <= written
    outside = {key for key in written if not key.startswith("repos/main/assets/")}
    assert not outside, f"written outside repos/main/assets/: {sorted(outside)}"

    body = s3.get_object(Bucket=bucket, Key="repos/main/assets/order_summary")["Body"].read()
    summary = pickle.loads(body)
    cleaned = pickle.loads(
        s3.get_object(Bucket=bucket, Key="repos/main/assets/cleaned_orders")["Body"].read()
    )
    assert sum(region["orders"] for region in summary.values()) == len(cleaned) > 0


def test_inbox_sensor_requests_one_run_per_new_object(
    aws_env: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_S3_BUCKET", bucket)
    defs = build_definitions(
        env={"DAGSTER_S3_BUCKET": bucket, "DAGSTER_REPO_NAME": "main"},
        dags_dir=REPO_ROOT / "dags" / "main",
    )
    sensor = defs.resolve_sensor_def("new_orders_sensor")
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="repos/other/inbox/2026-11-29T0650-orders.csv", Body=b"x")
    keys = [f"repos/main/inbox/2026-11-29T070{n}-orders.csv" for n in (1, 2)]

    def evaluate(cursor: str | None) -> SensorResult | SkipReason:
        with build_sensor_context(cursor=cursor, resources=defs.resources) as context:
            return sensor(context)  # type: ignore[no-any-return]

    assert isinstance(evaluate(None), SkipReason)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"order_id,amount\n")
    result = evaluate(None)
    assert isinstance(result, SensorResult)
    assert [r.run_key for r in result.run_requests or [] if isinstance(r, RunRequest)] == keys
    assert result.cursor == keys[-1]
    assert isinstance(evaluate(result.cursor), SkipReason)
