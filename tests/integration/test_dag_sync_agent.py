"""The sync agent as a real process against the real emulator, with S3 made unreachable by
closing the TCP path between them (the emulator keeps its state meanwhile)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from dagster_code.dags_sync.manifest import SyncStatus
from repository_manager.dags import history
from repository_manager.dags.errors import DagsError
from repository_manager.dags.publish import check_source, publish
from tests.integration.conftest import REPO_ROOT, free_port, wait_for

pytestmark = pytest.mark.integration
BUCKET = "dags-agent-test"
INTERVAL = 0.5
LOADER = (
    "import importlib.util, os, sys\n"
    "spec = importlib.util.spec_from_file_location(\n"
    "    'tree', os.path.join(os.environ['DAGS_DIR'], '__init__.py'),\n"
    "    submodule_search_locations=[os.environ['DAGS_DIR']])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['tree'] = module\n"
    "spec.loader.exec_module(module)\n"
)


class Forwarder:
    """A TCP path to the emulator that the test can cut and restore on the same port."""

    def __init__(self, target_port: int) -> None:
        self.port, self.target_port = free_port(), target_port
        self.server: socket.socket | None = None
        self.connections: list[socket.socket] = []

    def start(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def s3(emulator: str) -> Iterator[object]:
    client = boto3.client(
        "s3",
        endpoint_url=emulator,
        region_name="ap-southeast-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"}
    )
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client
    versions = client.list_object_versions(Bucket=BUCKET)
    for item in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    client.delete_bucket(Bucket=BUCKET)


def tree(root: Path, value: int) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "__init__.py").write_text(f"VALUE = {value}\n")
    return check_source(root)


def status(root: Path) -> SyncStatus | None:
    path = root / "dagster-dags" / "main" / "status.json"
    return SyncStatus.model_validate_json(path.read_text()) if path.is_file() else None


def test_the_agent_keeps_serving_through_an_outage_and_recovers(
    s3: object, emulator: str, tmp_path: Path
) -> None:
    publish(s3, BUCKET, "main", tree(tmp_path / "src", 1), commit=None)
    (tmp_path / "loads_tree.py").write_text(LOADER)
    path = Forwarder(int(emulator.rsplit(":", 1)[1]))
    path.start()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": f"{tmp_path}:{REPO_ROOT}",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{path.port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "ap-southeast-2",
        "AWS_MAX_ATTEMPTS": "1",
        "DAGSTER_S3_BUCKET": BUCKET,
        "DAG_SYNC_INTERVAL": str(INTERVAL),
        "DAG_SYNC_ROOT": str(tmp_path / "task"),
        "DAGS_DIR": str(tmp_path / "image-dags"),
    }
    server = ["--", "dagster", "code-server", "start", "--module-name", "loads_tree"]
    agent = [sys.executable, "-m", "dagster_code.dags_sync"]
    prepared = subprocess.run(
        [*agent, "prepare", *server], env=env, capture_output=True, text=True, timeout=120
    )
    assert prepared.returncode == 0, prepared.stderr
    current = Path(prepared.stdout.strip())
    assert (current / "__init__.py").read_text() == "VALUE = 1\n"
    watcher = subprocess.Popen(
        [*agent, "watch", *server], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    health = [*agent, "health"]
    try:
        path.stop()
        failing = wait_for(
            lambda: (s := status(tmp_path / "task")) and s.consecutive_failures >= 3 and s,
            60,
            "three failed intervals",
        )
        assert failing.deployment == "1" and "S3" in (failing.last_error or "")
        unhealthy = subprocess.run(health, env=env, capture_output=True, text=True, timeout=60)
        assert unhealthy.returncode == 1 and "3 intervals in a row" in unhealthy.stderr
        publish(s3, BUCKET, "main", tree(tmp_path / "src", 2), commit=None)
        assert (current / "__init__.py").read_text() == "VALUE = 1\n"

        path.start()

        recovered = wait_for(
            lambda: (s := status(tmp_path / "task")) and s.deployment == "2" and s,
            60,
            "deployment 2 after the outage",
        )
        assert recovered.consecutive_failures == 0
        assert (current / "__init__.py").read_text() == "VALUE = 2\n"
        healthy = subprocess.run(health, env=env, capture_output=True, text=True, timeout=60)
        assert healthy.returncode == 0 and "serving deployment 2" in healthy.stdout
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
        path.stop()


def test_a_bucket_that_does_not_exist_stops_the_agent_with_one_line(
    emulator: str, tmp_path: Path
) -> None:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_ENDPOINT_URL": emulator,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "ap-southeast-2",
        "DAGSTER_S3_BUCKET": "no-such-bucket",
        "DAG_SYNC_ROOT": str(tmp_path / "task"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "dagster_code.dags_sync", "prepare", "--", "dagster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 78
    assert result.stderr.strip().splitlines()[-1] == (
        "error: DAGSTER_S3_BUCKET=no-such-bucket: no such bucket; set it to the platform "
        "bucket (tofu output s3_bucket_name)"
    )
    assert "Traceback" not in result.stderr


def test_of_two_deploys_from_the_same_latest_one_wins_and_the_other_changes_no_manifest(
    s3: object, tmp_path: Path
) -> None:
    first = publish(s3, BUCKET, "main", tree(tmp_path / "a", 1), commit=None)
    base = first.deployment

    winner = publish(s3, BUCKET, "main", tree(tmp_path / "b", 2), commit=None, previous=base)
    with pytest.raises(DagsError, match="another deploy to main took deployment 2 first"):
        publish(s3, BUCKET, "main", tree(tmp_path / "c", 3), commit=None, previous=base)

    assert history.deployment_ids(s3, BUCKET, "main") == [1, 2]
    stored = history.get(s3, BUCKET, "main", 2)
    assert stored == winner.deployment
    (entry,) = stored.files
    body = s3.get_object(  # type: ignore[attr-defined]
        Bucket=BUCKET, Key="dags/main/__init__.py", VersionId=entry.version_id
    )["Body"].read()
    assert body == b"VALUE = 2\n"


def test_a_task_starting_on_a_broken_newest_deployment_serves_the_last_good_one(
    s3: object, emulator: str, tmp_path: Path
) -> None:
    publish(s3, BUCKET, "main", tree(tmp_path / "good", 1), commit=None)
    broken = tmp_path / "broken"
    tree(broken, 2)
    (broken / "__init__.py").write_text("VALUE = 2\nraise ValueError('half-finished edit')\n")
    publish(s3, BUCKET, "main", check_source(broken), commit=None)
    (tmp_path / "loads_tree.py").write_text(LOADER)
    (tmp_path / "image-dags").mkdir()
    (tmp_path / "image-dags" / "__init__.py").write_text("VALUE = 0\n")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": f"{tmp_path}:{REPO_ROOT}",
        "AWS_ENDPOINT_URL": emulator,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "ap-southeast-2",
        "DAGSTER_S3_BUCKET": BUCKET,
        "DAG_SYNC_ROOT": str(tmp_path / "task"),
        "DAGS_DIR": str(tmp_path / "image-dags"),
    }
    server = ["--", "dagster", "code-server", "start", "--module-name", "loads_tree"]

    prepared = subprocess.run(
        [sys.executable, "-m", "dagster_code.dags_sync", "prepare", *server],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert prepared.returncode == 0, prepared.stderr
    assert (Path(prepared.stdout.strip()) / "__init__.py").read_text() == "VALUE = 1\n"
    reported = status(tmp_path / "task")
    assert reported is not None
    assert (reported.deployment, reported.rejected_deployment) == ("1", 2)
    assert "__init__.py:2: ValueError: half-finished edit" in (reported.last_error or "")
