"""The local "image build": a uv virtualenv per set of dependencies, plus the repository's code.

An image holds the platform's pinned Dagster set, the repository's own dependencies and a copy
of ``dagster_code`` (the virtualenv, its dependency layer), and the repository's code, which stays
in its checkout (``working_directory``). As in a Dockerfile that copies the dependency files and
installs them before copying the code, the dependency layer is keyed by what goes into it
(dependency files, pins, ``dagster_code``, interpreter, uv): repositories with the same
dependencies, and every commit of one repository, share one layer, whose modules are already
compiled when the next one imports them. A repository whose install reads its own files (a
``pyproject.toml`` project installed as a package, a requirement naming a local path or another
file) puts them in the layer, so its key includes the commit. A
layer is built in a staging folder, then moved to ``images_dir/<key prefix>`` (uv's relocatable
venvs survive the move); uv's cache (``cache_dir``/``UV_CACHE_DIR``, else uv's own user cache)
makes a new layer of already-seen requirements a matter of linking files. The image's digest
covers the commit and the layer's exact package set.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel

from repository_manager.repos.errors import RepoError, one_line
from repository_manager.repos.platform_pins import (
    PLATFORM_PACKAGE,
    PLATFORM_ROOT,
    platform_package_dir,
    platform_package_hash,
    platform_requirements,
)
from repository_manager.repos.sources import DependencySources, dependency_sources, file_naming
from repository_manager.repos.uv_run import read_failure, run_uv, uv_bin, uv_env

LAYER_FILE = "layer.json"
Log = Callable[[str], None]


class BuiltImage(BaseModel):
    root: Path
    python: Path
    working_directory: Path
    digest: str
    commit: str
    env: dict[str, str] = {}


class DependencyLayer(BaseModel):
    """A built virtualenv and the exact package set in it (``uv pip freeze``)."""

    root: Path
    freeze: list[str]


def build_image(
    checkout: Path,
    commit: str,
    images_dir: Path,
    *,
    platform_root: Path = PLATFORM_ROOT,
    cache_dir: Path | None = None,
    python: str | None = None,
    timeout: float = 900.0,
    log: Log | None = None,
) -> BuiltImage:
    """The image of ``checkout`` at ``commit``, on a dependency layer under ``images_dir``
    (found, or built)."""
    say = log or (lambda _line: None)
    checkout = checkout.resolve()
    python = python or str(getattr(sys, "_base_executable", sys.executable))
    sources = dependency_sources(checkout)
    pins = platform_requirements(platform_root)
    key = _input_key(
        commit if sources.reads_checkout() else None, sources, pins, platform_root, python
    )
    with _layer_lock(images_dir, key):
        layer = _find_layer(images_dir, key)
        if layer is None:
            layer = _build_layer(
                checkout,
                sources,
                pins,
                images_dir,
                key,
                platform_root,
                python,
                cache_dir,
                timeout,
                say,
            )
        else:
            say(f"dependency layer {layer.root.parent.name} is up to date")
    return BuiltImage(
        root=layer.root,
        python=_python_of(layer.root),
        working_directory=checkout,
        digest=_digest(commit, layer.freeze, platform_root),
        commit=commit,
        env=_image_env(checkout, sources),
    )


def _build_layer(
    checkout: Path,
    sources: DependencySources,
    pins: list[str],
    images_dir: Path,
    key: str,
    platform_root: Path,
    python: str,
    cache_dir: Path | None,
    timeout: float,
    say: Log,
) -> DependencyLayer:
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{key[:12]}-", dir=images_dir))
    env = uv_env(cache_dir)
    try:
        venv = staging / "venv"
        _uv(["venv", "--relocatable", "--python", python, str(venv)], env, timeout, say)
        args = ["pip", "install", "--python", str(_python_of(venv)), *pins]
        if sources.lock:
            args += ["-r", str(_export_lock(checkout, staging, env, timeout, say))]
        if sources.requirements:
            args += ["-r", str(checkout / "requirements.txt")]
        if sources.project:
            args.append(str(checkout))
        result = run_uv(args, env, timeout, cwd=checkout)
        _emit(result.stdout + result.stderr, say)
        if result.returncode != 0:
            raise _install_error(result.stderr, sources)
        _copy_platform_package(venv, platform_root, timeout)
        freeze = _freeze(venv, checkout, env, timeout)
        final = images_dir / key[:16]
        (staging / LAYER_FILE).write_text(
            json.dumps({"key": key, "freeze": freeze}, indent=2), encoding="utf-8"
        )
        # Under the layer's lock, an existing folder is one an interrupted build left behind
        # (its layer file is written last).
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        return DependencyLayer(root=final / "venv", freeze=freeze)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _layer_lock(images_dir: Path, key: str) -> Iterator[None]:
    """One build of a layer at a time, across processes and threads (each takes its own open
    file, and ``flock`` locks per open file): the next one finds the layer built."""
    images_dir.mkdir(parents=True, exist_ok=True)
    with open(images_dir / f".lock-{key[:16]}", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _uv(args: list[str], env: dict[str, str], timeout: float, say: Log) -> str:
    result = run_uv(args, env, timeout)
    _emit(result.stdout + result.stderr, say)
    if result.returncode != 0:
        failure = read_failure(result.stderr)
        raise RepoError(f"uv {' '.join(args[:2])} failed: {failure.cause}", failure.tail)
    return result.stdout


def _export_lock(
    checkout: Path, staging: Path, env: dict[str, str], timeout: float, say: Log
) -> Path:
    """``uv export --frozen`` turns the lock into exact pins that ``uv pip install`` resolves
    together with the platform's pins (``uv pip sync`` would uninstall what the lock does not
    list, i.e. the platform's set); a pin that conflicts with the platform fails the build."""
    out = staging / "uv-lock-requirements.txt"
    args = ["export", "--frozen", "--no-hashes", "--no-header", "--no-dev", "--no-emit-project"]
    args += ["--no-editable", "--project", str(checkout), "--output-file", str(out)]
    result = run_uv(args, env, timeout, cwd=checkout)
    _emit(result.stderr, say)
    if result.returncode != 0:
        cause = read_failure(result.stderr).cause
        raise RepoError(f"uv.lock could not be exported: {cause} (run `uv lock` and commit it)")
    return out


def _install_error(stderr: str, sources: DependencySources) -> RepoError:
    failure = read_failure(stderr)
    if failure.package is None:
        return RepoError(
            f"installing the repository's dependencies failed: {failure.cause}", failure.tail
        )
    origin = file_naming(failure.package, sources)
    if origin is None and sources.project and failure.reason == "its build failed":
        origin = "pyproject.toml" if (sources.checkout / "pyproject.toml").is_file() else "setup.py"
    where = f"from {origin}" if origin else "from the platform's pins or a transitive dependency"
    return RepoError(
        f"installing package {failure.package!r} ({where}) failed: {failure.reason}: "
        f"{failure.cause}",
        failure.tail,
    )


ENTRYPOINT_MODULES = ("__init__.py", "workspace.py", "task_address.py")


def _copy_platform_package(venv: Path, platform_root: Path, timeout: float) -> None:
    purelib = _run_python(
        venv, ["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], timeout
    ).strip()
    shutil.copytree(
        platform_package_dir(platform_root),
        Path(purelib) / PLATFORM_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # What docker/Dockerfile copies beside it for the image's entrypoint (workspace rendering,
    # the task's address): a repository's image is built on the platform image.
    entrypoint_modules = Path(purelib) / "repository_manager"
    entrypoint_modules.mkdir(exist_ok=True)
    for module in ENTRYPOINT_MODULES:
        shutil.copy2(platform_root / "repository_manager" / module, entrypoint_modules / module)
    # find_spec, not import: importing dagster takes ~5 s here, and the import check imports it.
    probe = (
        "import importlib.util as u, sys; "
        f"missing = [m for m in ('dagster', 'dagster_aws', '{PLATFORM_PACKAGE}.location') "
        "if u.find_spec(m) is None]; sys.exit(f'missing modules: {missing}' if missing else 0)"
    )
    _run_python(venv, ["-c", probe], timeout)


def _run_python(venv: Path, args: list[str], timeout: float) -> str:
    try:
        proc = subprocess.run(
            # -P and cwd: nothing outside the image (e.g. the platform checkout) is importable.
            [str(_python_of(venv)), "-P", *args],
            cwd=venv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}},
        )
    except subprocess.TimeoutExpired:
        raise RepoError(f"the new image's python did not answer within {timeout:g}s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RepoError(f"the new image is broken: {one_line(last)}")
    return proc.stdout


def _freeze(venv: Path, checkout: Path, env: dict[str, str], timeout: float) -> list[str]:
    """``uv pip freeze``, with the checkout's own ``name @ file://…`` line reduced to the name:
    the commit already identifies its content, and the checkout's path must not matter."""
    result = run_uv(["pip", "freeze", "--python", str(_python_of(venv))], env, timeout)
    if result.returncode != 0:
        raise RepoError(f"uv pip freeze failed: {read_failure(result.stderr).cause}")
    lines = []
    for line in result.stdout.splitlines():
        name, sep, _where = line.partition(" @ file://")
        lines.append(f"{name} @ checkout" if sep else line.strip())
    return sorted(line for line in lines if line)


def _digest(commit: str, freeze: list[str], platform_root: Path) -> str:
    text = "\n".join(
        [f"commit {commit}", f"{PLATFORM_PACKAGE} {platform_package_hash(platform_root)}", *freeze]
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _input_key(
    commit: str | None,
    sources: DependencySources,
    pins: list[str],
    platform_root: Path,
    python: str,
) -> str:
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources.files()}
    data = {
        "commit": commit,
        "files": files,
        "pins": pins,
        "platform": platform_package_hash(platform_root),
        "entrypoint": {
            module: hashlib.sha256(
                (platform_root / "repository_manager" / module).read_bytes()
            ).hexdigest()
            for module in ENTRYPOINT_MODULES
        },
        "python": os.path.realpath(python),
        "uv": uv_bin(),
        "sources": [sources.lock, sources.project, sources.requirements],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _find_layer(images_dir: Path, key: str) -> DependencyLayer | None:
    path = images_dir / key[:16] / LAYER_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    layer = DependencyLayer(root=path.parent / "venv", freeze=data.get("freeze", []))
    if data.get("key") != key or not _python_of(layer.root).exists():
        return None
    return layer


def _image_env(checkout: Path, sources: DependencySources) -> dict[str, str]:
    """A repository that is not installed as a package is imported from its checkout."""
    return {} if sources.project else {"PYTHONPATH": str(checkout)}


def _python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def _emit(output: str, say: Log) -> None:
    for line in output.splitlines():
        if line.strip():
            say(line.rstrip())
