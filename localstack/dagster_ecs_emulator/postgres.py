"""An embedded PostgreSQL server: system binaries when present, else the ``pgserver`` wheel's own.

PostgreSQL refuses to run as root; when the stack runs as root (CI, containers) the server runs as
the unprivileged ``nobody`` user, which then needs to traverse the folders down to the data dir.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

DB_NAME = "dagster"
DB_USER = "dagster"
UNPRIVILEGED_USER = "nobody"


class PostgresError(RuntimeError):
    """PostgreSQL could not be set up; the message says what to do."""


class PostgresNotFound(PostgresError):
    pass


@dataclass(frozen=True)
class PostgresBinaries:
    bindir: Path

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def postgres(self) -> str:
        return str(self.bindir / "postgres")


def _has_server(bindir: Path) -> bool:
    return (bindir / "postgres").is_file() and (bindir / "initdb").is_file()


def pgserver_bindir() -> Path | None:
    """Where the ``pgserver`` wheel keeps its PostgreSQL build (found without importing it:
    its import touches the user's runtime dirs)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def find_binaries() -> PostgresBinaries:
    """``DAGSTER_ECS_PG_BINDIR``, then PATH, then Debian's layout, then the pgserver wheel."""
    candidates: list[Path] = []
    if configured := os.environ.get("DAGSTER_ECS_PG_BINDIR"):
        candidates.append(Path(configured))
    if on_path := shutil.which("postgres"):
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), reverse=True)
    for bindir in candidates:
        if _has_server(bindir):
            return PostgresBinaries(bindir)
    wheel = pgserver_bindir()
    if wheel is not None and _has_server(wheel):
        return PostgresBinaries(wheel)
    raise PostgresNotFound(
        "PostgreSQL server binaries not found: run `make dev` again to reinstall the venv "
        "(it ships pgserver), or set DAGSTER_ECS_PG_BINDIR to a folder holding initdb and postgres"
    )


def server_user() -> str | None:
    return UNPRIVILEGED_USER if os.geteuid() == 0 else None


class DropPrivileges(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def drop_privileges_kwargs(user: str | None) -> DropPrivileges:
    """``subprocess`` arguments that run as ``user`` with its own group and no root groups.

    ``user=`` alone keeps root's group, and group bits then deny what the "other" bits allow.
    """
    if user is None:
        return DropPrivileges()
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _grant_traverse(path: Path) -> None:
    """Lets the unprivileged server user reach ``path`` (adds o+x to the folders above it)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for folder, _, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def data_dir(postgres_dir: Path) -> Path:
    return postgres_dir / "data"


def password_file(postgres_dir: Path) -> Path:
    return postgres_dir / "password"


def ensure_password(postgres_dir: Path) -> str:
    """The ``dagster`` role's password: made once, kept in a 0600 file beside the data."""
    secret_path = password_file(postgres_dir)
    if secret_path.exists():
        return secret_path.read_text().strip()
    postgres_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    secret_path.touch(mode=0o600)
    secret_path.write_text(password)
    return password


def ensure_cluster(
    binaries: PostgresBinaries, postgres_dir: Path, password: str, superuser: str = DB_USER
) -> None:
    """Creates the database cluster once, with ``password`` for the ``superuser`` role."""
    data = data_dir(postgres_dir)
    if (data / "PG_VERSION").exists():
        user = server_user()
        if user:
            # Folders above may have been made private since (a new pytest session resets
            # /tmp/pytest-of-<user> to 0700): the server user must still reach its data.
            _grant_traverse(postgres_dir)
            _grant_traverse(binaries.bindir)
        return
    if data.exists():
        shutil.rmtree(data)
    user = server_user()
    data.mkdir(mode=0o700)
    pwfile = postgres_dir / "initdb-password"
    pwfile.write_text(password)
    try:
        if user:
            _grant_traverse(postgres_dir)
            # The binaries may live in a private folder too (the pgserver wheel in a 0700 clone).
            _grant_traverse(binaries.bindir)
            _chown_tree(data, user)
            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                binaries.initdb,
                "-D",
                str(data),
                "-U",
                superuser,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
                # A development cluster: no fsync at initdb (nor at run time, see server_argv).
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            text=True,
            **drop_privileges_kwargs(user),
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(data, ignore_errors=True)
        detail = (error.stderr or error.stdout or "").strip().splitlines()
        raise PostgresError(
            f"initdb failed: {detail[-1] if detail else error}; "
            f"fix the cause, then run `make dev-reset`"
        ) from error
    finally:
        pwfile.unlink(missing_ok=True)


def server_argv(binaries: PostgresBinaries, postgres_dir: Path, host: str, port: int) -> list[str]:
    return [
        binaries.postgres,
        "-D",
        str(data_dir(postgres_dir)),
        "-h",
        host,
        "-p",
        str(port),
        "-k",
        str(data_dir(postgres_dir)),
        "-c",
        "max_connections=60",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "fsync=off",
    ]


def ensure_database(
    host: str, port: int, password: str, user: str = DB_USER, name: str = DB_NAME
) -> bool:
    """Creates the database ``name``, owned by ``user``, if missing (a new cluster holds only
    ``postgres``); returns whether it did."""
    import psycopg2

    conn = psycopg2.connect(
        host=host, port=port, user=user, password=password, dbname="postgres", connect_timeout=5
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is not None:
                return False
            cursor.execute(f'CREATE DATABASE "{name}"')
            return True
    finally:
        conn.close()
