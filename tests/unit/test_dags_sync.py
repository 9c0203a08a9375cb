"""The DAG deployment format, the release store and the pieces of the sync agent that are pure."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagster_code.dags_sync.check import check_tree
from dagster_code.dags_sync.manifest import (
    CONTAINER_OVERRIDES_TAG,
    Deployment,
    FileEntry,
    deployment_id_of,
    deployment_key,
    pinning_tags,
    status_key,
)
from dagster_code.dags_sync.releases import ReleaseStore, VerificationError, tree_files
from dagster_code.dags_sync.settings import (
    MissingSetting,
    agent_config,
    agent_credentials,
    interval,
)
from repository_manager.dags.errors import DagsError
from repository_manager.dags.publish import check_source
from repository_manager.dags.rollback import choose_target


def _entry(path: str, text: str) -> FileEntry:
    data = text.encode()
    return FileEntry(
        path=path, version_id=f"v-{path}", sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )


def _deployment(deployment_id: int, files: dict[str, str]) -> Deployment:
    return Deployment(
        location="main",
        id=deployment_id,
        created_at=datetime.now(UTC),
        files=[_entry(path, text) for path, text in files.items()],
    )


def test_deployment_keys_sort_by_id_and_parse_back() -> None:
    keys = [deployment_key("main", n) for n in (9, 10, 100)]
    assert keys == sorted(keys)
    assert [deployment_id_of(key) for key in keys] == [9, 10, 100]
    assert deployment_id_of("dags/main/.deployments/notes.txt") is None


def test_a_status_is_written_under_the_location_s_own_prefix() -> None:
    assert status_key("sales", "abc") == "repos/sales/dags-status/abc.json"


@pytest.mark.parametrize("path", ["../x.py", "/etc/passwd", ".hidden", "a/../../b"])
def test_a_manifest_cannot_name_a_file_outside_the_tree(path: str) -> None:
    with pytest.raises(ValueError, match="not a relative path"):
        FileEntry(path=path, version_id="v", sha256="0" * 64, size=1)


def test_content_hash_depends_on_contents_not_on_versions_or_order() -> None:
    one = _deployment(1, {"a.py": "A", "b.py": "B"})
    other = _deployment(2, {"b.py": "B", "a.py": "A"})
    changed = _deployment(3, {"a.py": "A", "b.py": "B2"})
    assert one.content_hash() == other.content_hash() != changed.content_hash()


def test_a_release_reuses_unchanged_files_and_downloads_the_rest(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    first = _deployment(1, {"__init__.py": "x = 1\n", "assets.py": "A\n"})
    downloads: list[str] = []
    contents = {"__init__.py": "x = 1\n", "assets.py": "A\n", "jobs.py": "J\n"}

    def download(entry: FileEntry, target: Path) -> None:
        downloads.append(entry.path)
        target.write_text(contents[entry.path])

    staging, fetched = store.build(first, download)
    store.activate(staging, first.content_hash())
    assert fetched == 2

    downloads.clear()
    second = _deployment(2, contents)
    staging, fetched = store.build(second, download)
    release = store.activate(staging, second.content_hash())

    assert downloads == ["jobs.py"] and fetched == 1
    assert store.current.resolve() == release
    assert sorted(tree_files(release)) == ["__init__.py", "assets.py", "jobs.py"]
    assert store.current_deployment() == second


def test_a_download_that_differs_from_the_manifest_is_refused(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    deployment = _deployment(1, {"assets.py": "expected"})

    with pytest.raises(VerificationError, match=r"assets\.py"):
        store.build(deployment, lambda entry, target: target.write_text("tampered"))

    assert store.current_release() is None
    assert [p for p in store.releases.iterdir()] == []


def test_old_releases_are_pruned_but_the_current_one_stays(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    for number in range(1, 6):
        deployment = _deployment(number, {"a.py": f"v{number}"})
        staging, _ = store.build(
            deployment, lambda entry, target, n=number: target.write_text(f"v{n}")
        )
        store.activate(staging, deployment.content_hash())
    releases = [p for p in store.releases.iterdir() if not p.name.startswith(".")]
    assert len(releases) == 3
    assert store.current_deployment() is not None
    assert store.current_deployment().id == 5  # type: ignore[union-attr]


def test_the_import_check_names_the_file_and_line(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "__init__.py").write_text("from . import helper\n")
    (tree / "helper.py").write_text("import os\n\nvalue = missing_name\n")
    module = tmp_path / "loads_tree.py"
    module.write_text(
        "import importlib.util, os, sys\n"
        "spec = importlib.util.spec_from_file_location(\n"
        "    'tree', os.path.join(os.environ['DAGS_DIR'], '__init__.py'),\n"
        "    submodule_search_locations=[os.environ['DAGS_DIR']])\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['tree'] = mod\n"
        "spec.loader.exec_module(mod)\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{':'.join(sys.path)}", "PATH": "/usr/bin:/bin"}

    failure = check_tree(tree, "loads_tree", env)

    assert failure is not None
    assert (failure.file, failure.line) == ("helper.py", 3)
    assert failure.one_line() == "helper.py:3: NameError: name 'missing_name' is not defined"
    (tree / "helper.py").write_text("value = 1\n")
    assert check_tree(tree, "loads_tree", env) is None


def test_rollback_targets() -> None:
    assert choose_target([1, 2, 3], "main", None, 1) == 2
    assert choose_target([1, 2, 3], "main", None, 2) == 1
    assert choose_target([1, 2, 3], "main", 1, 1) == 1
    for ids, to, steps, message in (
        ([], None, 1, "no deployments"),
        ([1, 2], None, 2, "cannot go back 2"),
        ([1, 2], 7, 1, "no deployment 7"),
        ([1, 2], 2, 1, "already has deployment 2"),
        ([1, 2], None, 0, "STEPS must be 1 or more"),
    ):
        with pytest.raises(DagsError, match=message):
            choose_target(ids, "main", to, steps)


def test_the_pinning_tags_keep_the_user_s_own_container_overrides() -> None:
    own = {"environment": [{"name": "MINE", "value": "1"}], "cpu": 512}
    tags = pinning_tags({CONTAINER_OVERRIDES_TAG: json.dumps(own)}, "7")

    overrides = json.loads(tags[CONTAINER_OVERRIDES_TAG])
    assert overrides["cpu"] == 512
    assert overrides["environment"] == [
        {"name": "MINE", "value": "1"},
        {"name": "DAGS_DEPLOYMENT", "value": "7"},
    ]
    assert tags["dagster-ecs/dags-deployment"] == "7"


def test_the_agent_reads_its_server_from_the_code_server_command(tmp_path: Path) -> None:
    command = ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4001"]
    command += ["--module-name", "dagster_code.repository", "--location-name", "sales"]
    env = {"DAGSTER_S3_BUCKET": "b", "DAG_SYNC_INTERVAL": "2", "TMPDIR": str(tmp_path)}

    config = agent_config(env, command)

    assert (config.location, config.grpc_host, config.grpc_port) == ("sales", "127.0.0.1", 4001)
    assert config.module == "dagster_code.repository"
    assert config.root == tmp_path / "dagster-dags" / "sales"
    assert config.interval == 2


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "DAGSTER_S3_BUCKET is not set"),
        ({"DAGSTER_S3_BUCKET": "b", "DAG_SYNC_INTERVAL": "soon"}, "DAG_SYNC_INTERVAL='soon'"),
        ({"DAGSTER_S3_BUCKET": "b", "DAG_SYNC_INTERVAL": "-1"}, "above 0"),
    ],
)
def test_bad_agent_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(MissingSetting, match=message):
        agent_config(env, [])
    if "DAGSTER_S3_BUCKET" in env:
        with pytest.raises(MissingSetting):
            interval(env)


def test_deploy_refuses_empty_and_non_compiling_trees(tmp_path: Path) -> None:
    with pytest.raises(DagsError, match="holds no files"):
        check_source(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "bad.py").write_text("x = (\n")
    with pytest.raises(DagsError, match=r"bad.py:1: SyntaxError"):
        check_source(tmp_path)
    (tmp_path / "bad.py").unlink()
    assert list(check_source(tmp_path)) == ["ok.py"]


@pytest.mark.parametrize("location", ["main", "sales", "a-very-long-location-name" * 3])
def test_run_families_are_found_by_dagster_aws_s_naming(location: str) -> None:
    from dagster_aws.ecs.utils import _get_family_hash, sanitize_family

    from repository_manager.logs import run_family_prefix

    family = sanitize_family(
        f"run_{_get_family_hash(location)}_{_get_family_hash('__repository__')}_"
        f"{_get_family_hash('job')}"
    )
    assert family.startswith(run_family_prefix(location))
    assert not sanitize_family(f"run_{_get_family_hash(location + 'x')}_r_j").startswith(
        run_family_prefix(location)
    )


def test_the_agent_uses_its_own_key_only_when_the_task_injects_both_halves() -> None:
    assert agent_credentials({}) == (None, None)
    both = {"DAG_SYNC_AWS_ACCESS_KEY_ID": "AKIA1", "DAG_SYNC_AWS_SECRET_ACCESS_KEY": "s"}
    assert agent_credentials(both) == ("AKIA1", "s")
    with pytest.raises(MissingSetting, match="DAG_SYNC_AWS_SECRET_ACCESS_KEY is not set"):
        agent_credentials({"DAG_SYNC_AWS_ACCESS_KEY_ID": "AKIA1"})


def test_a_repository_s_package_folder_itself_is_refused_as_its_deployment(
    tmp_path: Path,
) -> None:
    from repository_manager.dags.publish import check_not_nested

    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "definitions.py").write_text("x = 1\n")
    files = check_source(tmp_path)
    with pytest.raises(DagsError, match=r"holds the package folder ledger/ itself: pass --source"):
        check_not_nested(tmp_path, files, "ledger")
    check_not_nested(tmp_path / "ledger", check_source(tmp_path / "ledger"), "ledger")
    check_not_nested(tmp_path, files, None)
    (tmp_path / "helpers.py").write_text("y = 2\n")
    check_not_nested(tmp_path, check_source(tmp_path), "ledger")
