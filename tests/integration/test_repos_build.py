"""Real git repositories, real uv builds, real import checks, and ECR on a real moto server.

Builds download from the package index on first use; everything lands under pytest's tmp dirs.
"""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from repository_manager.repos.build import BuiltImage, build_image
from repository_manager.repos.definitions import DefinitionsTarget, find_definitions
from repository_manager.repos.ecr import record_in_ecr
from repository_manager.repos.errors import RepoError
from repository_manager.repos.git import clone
from repository_manager.repos.import_check import check_definitions
from repository_manager.repos.uv_run import uv_bin

pytestmark = pytest.mark.integration

GIT_ID = ["-c", "user.email=test@example.com", "-c", "user.name=test"]
ASSET = """import dagster as dg


@dg.asset
def hello() -> str:
    return "hi"


defs = dg.Definitions(assets=[hello])
"""
PYPROJECT = """[project]
name = "my-pipeline"
version = "0.1.0"
dependencies = ["dagster"]

[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[tool.setuptools]
packages = ["my_pipeline"]
"""
SIX_ASSET = """import dagster as dg
import six


@dg.asset
def six_version() -> str:
    return six.__version__


defs = dg.Definitions(assets=[six_version])
"""


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True)
    return out.stdout.decode().strip()


def make_repo(path: Path, files: dict[str, str]) -> str:
    """A git repository with one commit on ``main``; returns its file:// URL."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return f"file://{path}"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def timed_build(
    checkout: Path, commit: str, images: Path, cache: Path
) -> tuple[BuiltImage, list[str], float]:
    lines: list[str] = []
    start = time.monotonic()
    image = build_image(checkout, commit, images, cache_dir=cache, log=lines.append)
    return image, lines, time.monotonic() - start


def layers(images: Path) -> list[str]:
    """The folders of an images directory (layers, or staging left behind), not its lock files."""
    return sorted(p.name for p in images.iterdir() if not p.name.startswith(".lock-"))


def downloads(lines: list[str]) -> list[str]:
    """uv's lines saying it fetched or built a distribution (absent when all came from cache)."""
    return [line for line in lines if line.startswith(("Downloading", "Prepared"))]


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> tuple[BuiltImage, Path]:
    """A pyproject.toml project with ``my_pipeline/definitions.py``, cloned and built."""
    root = tmp_path_factory.mktemp("packaged")
    url = make_repo(
        root / "origin",
        {
            "pyproject.toml": PYPROJECT,
            "my_pipeline/__init__.py": "",
            "my_pipeline/definitions.py": ASSET,
        },
    )
    commit = clone(url, "main", root / "checkout")
    image = build_image(root / "checkout", commit, root / "images", cache_dir=uv_cache)
    return image, root


def test_packaged_project_builds_and_loads(packaged: tuple[BuiltImage, Path]) -> None:
    image, root = packaged
    target = find_definitions(image.working_directory)
    assert target == DefinitionsTarget(kind="module", value="my_pipeline.definitions")
    summary = check_definitions(image, target, env={}, timeout=120)
    assert summary.attribute == "defs" and summary.assets == ["hello"]
    assert image.digest.startswith("sha256:") and len(image.digest) == 71
    assert image.root.parent.parent == root / "images" and image.root.name == "venv"
    assert image.env == {}  # installed as a package: no PYTHONPATH needed
    freeze = subprocess.run(
        [uv_bin(), "pip", "freeze", "--python", str(image.python)], capture_output=True, text=True
    ).stdout
    assert "dagster==1.13.27" in freeze and "dagster-aws==0.29.27" in freeze
    assert "my-pipeline @ file://" in freeze
    probe = "import dagster_code.location, my_pipeline; print(dagster_code.__file__)"
    out = subprocess.run(
        [str(image.python), "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().startswith(str(image.root))  # a copy inside the image


def test_rebuilding_the_same_inputs_is_a_no_op(
    packaged: tuple[BuiltImage, Path], uv_cache: Path
) -> None:
    image, root = packaged
    again, lines, _ = timed_build(image.working_directory, image.commit, root / "images", uv_cache)
    assert again == image
    assert lines == [f"dependency layer {image.root.parent.name} is up to date"]
    assert layers(root / "images") == [image.root.parent.name]


def test_a_packaged_project_gets_a_layer_per_commit(
    packaged: tuple[BuiltImage, Path], uv_cache: Path
) -> None:
    """Its own code is installed into the layer, so another commit cannot share it."""
    image, root = packaged
    checkout = root / "checkout"
    (checkout / "my_pipeline" / "extra.py").write_text("VALUE = 2\n")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "extra")
    commit = git(checkout, "rev-parse", "HEAD")
    other = build_image(checkout, commit, root / "images", cache_dir=uv_cache)
    assert other.root != image.root and other.digest != image.digest
    probe = "import my_pipeline.extra as e; print(e.VALUE)"
    out = subprocess.run([str(other.python), "-c", probe], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "2", out.stderr
    missing = subprocess.run([str(image.python), "-c", probe], cwd=root, capture_output=True)
    assert missing.returncode != 0, "the first commit's layer holds the second commit's code"


def test_requirements_build_cold_then_warm(tmp_path: Path) -> None:
    cache = tmp_path / "fresh-uv-cache"
    builds = []
    for name in ("first", "second"):
        url = make_repo(
            tmp_path / name / "origin",
            {"requirements.txt": "six\n", "definitions.py": SIX_ASSET, "README.md": name},
        )
        commit = clone(url, "main", tmp_path / name / "checkout")
        builds.append(
            timed_build(tmp_path / name / "checkout", commit, tmp_path / name / "images", cache)
        )
    (cold, cold_lines, cold_s), (warm, warm_lines, warm_s) = builds
    print(f"\nuv build with a cold cache {cold_s:.1f}s, warm cache {warm_s:.1f}s")
    assert downloads(cold_lines), cold_lines
    assert downloads(warm_lines) == [], warm_lines
    assert cold.digest != warm.digest  # different commits
    assert warm.env == {"PYTHONPATH": str(warm.working_directory)}
    target = find_definitions(warm.working_directory)
    assert target == DefinitionsTarget(kind="python_file", value="definitions.py")
    assert check_definitions(warm, target, env={}, timeout=120).assets == ["six_version"]


def test_repositories_with_the_same_dependencies_share_one_layer(
    tmp_path: Path, uv_cache: Path
) -> None:
    """Like two images built from one Dockerfile's dependency stage: the second installs
    nothing, yet each image is its own digest and imports its own code."""
    images = tmp_path / "images"
    built = []
    for name in ("left", "right", "local"):
        files = {
            "requirements.txt": "six\n",
            "definitions.py": SIX_ASSET.replace("six_version", name),
        }
        if name == "local":
            files["requirements.txt"] = "six\n./vendored\n"
            files["vendored/setup.py"] = "from setuptools import setup\nsetup(name='vendored')\n"
        url = make_repo(tmp_path / name / "origin", files)
        commit = clone(url, "main", tmp_path / name / "checkout")
        built.append(timed_build(tmp_path / name / "checkout", commit, images, uv_cache))
    (left, _, _), (right, right_lines, _), (local, _, _) = built
    assert right.root == left.root
    assert right_lines == [f"dependency layer {left.root.parent.name} is up to date"]
    assert right.digest != left.digest and right.commit != left.commit
    for image, name in ((left, "left"), (right, "right")):
        target = find_definitions(image.working_directory)
        assert check_definitions(image, target, env={}, timeout=120).assets == [name]
    assert local.root != left.root, "a requirement on a local path shared a layer across commits"


def test_two_builds_of_one_layer_at_once_share_it(tmp_path: Path, uv_cache: Path) -> None:
    """A restore builds two repositories at a time in one process: with the same dependencies,
    the second waits for the first's layer instead of building into the same staging folder."""
    from concurrent.futures import ThreadPoolExecutor

    checkouts = []
    for name in ("one", "two"):
        url = make_repo(
            tmp_path / name / "origin",
            {"requirements.txt": "six\n", "definitions.py": SIX_ASSET.replace("six_version", name)},
        )
        commit = clone(url, "main", tmp_path / name / "checkout")
        checkouts.append((tmp_path / name / "checkout", commit))
    images = tmp_path / "images"
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(
            pool.map(lambda c: build_image(c[0], c[1], images, cache_dir=uv_cache), checkouts)
        )
    assert built[0].root == built[1].root and built[0].digest != built[1].digest
    assert layers(images) == [built[0].root.parent.name]


def test_uv_lock_pins_are_installed(tmp_path: Path, uv_cache: Path) -> None:
    checkout = write(
        tmp_path / "checkout",
        {
            "pyproject.toml": '[project]\nname = "locked"\nversion = "0.1.0"\n'
            'requires-python = ">=3.11"\ndependencies = ["six<=1.16.0"]\n'
            "[tool.uv]\npackage = false\n",
            "definitions.py": SIX_ASSET,
        },
    )
    subprocess.run(
        [uv_bin(), "lock", "--quiet"],
        cwd=checkout,
        check=True,
        env={**os.environ, "UV_CACHE_DIR": str(uv_cache)},
    )
    image = build_image(checkout, "a" * 40, tmp_path / "images", cache_dir=uv_cache)
    out = subprocess.run(
        [str(image.python), "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1.16.0"


def test_missing_package_names_the_package_and_its_file(tmp_path: Path, uv_cache: Path) -> None:
    checkout = write(
        tmp_path / "checkout", {"requirements.txt": "six\nno-such-package-dagster-ecs-zz\n"}
    )
    with pytest.raises(RepoError) as caught:
        build_image(checkout, "b" * 40, tmp_path / "images", cache_dir=uv_cache)
    message = str(caught.value)
    assert message.startswith(
        "installing package 'no-such-package-dagster-ecs-zz' (from requirements.txt) failed: "
        "not found in the package registry"
    )
    assert "\n" not in message
    assert layers(tmp_path / "images") == []  # staging removed


def test_conflict_with_the_platform_pins(tmp_path: Path, uv_cache: Path) -> None:
    checkout = write(tmp_path / "checkout", {"requirements.txt": "dagster==1.0.0\n"})
    with pytest.raises(
        RepoError,
        match=r"package 'dagster' \(from requirements.txt\) failed: its requirements conflict",
    ):
        build_image(checkout, "c" * 40, tmp_path / "images", cache_dir=uv_cache)


def broken(packaged: tuple[BuiltImage, Path], tmp_path: Path, files: dict[str, str]) -> BuiltImage:
    """The packaged image pointed at a checkout with other code."""
    return packaged[0].model_copy(update={"working_directory": write(tmp_path / "co", files)})


def test_import_of_a_missing_module_shows_file_and_line(
    packaged: tuple[BuiltImage, Path], tmp_path: Path
) -> None:
    code = "import dagster as dg\n\nimport not_a_real_module_zz\n"
    image = broken(packaged, tmp_path, {"etl/__init__.py": "", "etl/definitions.py": code})
    with pytest.raises(RepoError) as caught:
        check_definitions(image, find_definitions(image.working_directory), env={}, timeout=120)
    assert str(caught.value) == (
        "loading module etl.definitions failed at etl/definitions.py:3: ModuleNotFoundError: "
        "No module named 'not_a_real_module_zz'"
    )
    assert 0 < len(caught.value.details) <= 3
    assert caught.value.details[-1] == "ModuleNotFoundError: No module named 'not_a_real_module_zz'"


def test_syntax_error_shows_file_and_line(
    packaged: tuple[BuiltImage, Path], tmp_path: Path
) -> None:
    image = broken(
        packaged, tmp_path, {"definitions.py": "import dagster as dg\n\ndefs = dg.Definitions(\n"}
    )
    target = DefinitionsTarget(kind="python_file", value="definitions.py")
    with pytest.raises(
        RepoError,
        match=r"^loading python file definitions.py failed at definitions.py:3: SyntaxError: ",
    ):
        check_definitions(image, target, env={}, timeout=120)


def test_error_raised_deeper_in_the_repository(
    packaged: tuple[BuiltImage, Path], tmp_path: Path
) -> None:
    helpers = (
        "import os\n\nimport dagster as dg\n\n\ndef make():\n"
        "    return dg.Definitions(assets=[]) if os.environ['NEEDED_VAR'] else None\n"
    )
    files = {"definitions.py": "from helpers import make\n\ndefs = make()\n", "helpers.py": helpers}
    image = broken(packaged, tmp_path, files)
    target = DefinitionsTarget(kind="python_file", value="definitions.py")
    with pytest.raises(RepoError, match=r"failed at helpers.py:7: KeyError: 'NEEDED_VAR'"):
        check_definitions(image, target, env={}, timeout=120)
    # The environment given to the check reaches the repository's code.
    assert check_definitions(image, target, env={"NEEDED_VAR": "x"}, timeout=120).assets == []


def test_a_module_without_definitions(packaged: tuple[BuiltImage, Path], tmp_path: Path) -> None:
    image = broken(packaged, tmp_path, {"definitions.py": "x = 1\n"})
    target = DefinitionsTarget(kind="python_file", value="definitions.py")
    with pytest.raises(RepoError, match=r"^loading python file definitions.py failed"):
        check_definitions(image, target, env={}, timeout=120)


def test_import_that_never_finishes(packaged: tuple[BuiltImage, Path], tmp_path: Path) -> None:
    image = broken(packaged, tmp_path, {"definitions.py": "while True:\n    pass\n"})
    target = DefinitionsTarget(kind="python_file", value="definitions.py")
    with pytest.raises(RepoError, match=r"did not finish within 5s"):
        check_definitions(image, target, env={}, timeout=5)


@pytest.fixture
def ecr() -> Iterator[object]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield boto3.client(
            "ecr",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def test_record_in_ecr(ecr: object) -> None:
    client: object = ecr
    digest = "sha256:" + "ab" * 32
    uri = record_in_ecr(client, "dagster-ecs/cl-my-pipeline", "c0ffee", digest)
    base = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/dagster-ecs/cl-my-pipeline"
    assert uri.startswith(base + "@sha256:") and len(uri) == len(base) + 72
    detail = client.describe_images(repositoryName="dagster-ecs/cl-my-pipeline")["imageDetails"]  # type: ignore[attr-defined]
    assert [(d["imageDigest"], d["imageTags"]) for d in detail] == [(uri.split("@")[1], ["c0ffee"])]
    manifest = client.batch_get_image(  # type: ignore[attr-defined]
        repositoryName="dagster-ecs/cl-my-pipeline", imageIds=[{"imageTag": "c0ffee"}]
    )["images"][0]["imageManifest"]
    assert json.loads(manifest)["config"]["digest"] == digest
    # Recording the same image again is idempotent; a tag reference is available too.
    assert record_in_ecr(client, "dagster-ecs/cl-my-pipeline", "c0ffee", digest) == uri
    assert (
        record_in_ecr(client, "dagster-ecs/cl-my-pipeline", "c0ffee", digest, by_digest=False)
        == base + ":c0ffee"
    )
    other = record_in_ecr(client, "dagster-ecs/cl-my-pipeline", "beef", "sha256:" + "cd" * 32)
    assert other != uri


def test_record_in_ecr_refuses_a_malformed_digest(ecr: object) -> None:
    with pytest.raises(RepoError, match="is not sha256:<64 hex characters>"):
        record_in_ecr(ecr, "dagster-ecs/cl-x", "t", "abc")
