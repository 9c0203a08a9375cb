"""RDS PostgreSQL DB instances that are real PostgreSQL servers (an emulator capability, installed
by ``dagster_ecs_emulator.server`` with the shims; plain moto keeps the upstream behaviour).

moto 5.2.5 keeps a DB instance as metadata only: its endpoint
``<id>.aaaaaaaaaa.<region>.rds.amazonaws.com:5432`` resolves nowhere, and the managed master-user
secret holds ``{"username": "admin", "password": "P@55w0rd!"}`` whatever the master username
(``MasterUserSecret._generate_secret_string``). ECS tasks of a tofu-applied stack read that
endpoint and that secret, so they reached no database.

Here CreateDBInstance with engine ``postgres`` answers once a real server (``dagster_ecs_emulator
.rds_server``) accepts the master user's password and holds ``DBName``: about 1-2 s, during which
DescribeDBInstances says ``creating``; so ``available`` is true, and the AWS provider, which waits
for it, moves on. The managed secret holds what AWS stores (the master username and a generated
password), and the instance's Endpoint is ``127.0.0.1`` and the server's port (Port in the request
is not honoured: a free port is). DeleteDBInstance stops the server and removes its data, as does
the emulator's exit, which loses moto's in-memory state anyway. Not emulated: read replicas,
restores, clusters, Stop/StartDBInstance, password changes by ModifyDBInstance or rotation.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

from dagster_ecs_emulator import rds_server
from dagster_ecs_emulator.rds_server import PostgresServer

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_PASSWORD = re.compile(r"[!-~]{8,128}")
_PASSWORD_FORBIDDEN = set("/'\"@")
_installed = False


class Databases:
    """The servers behind the emulator's DB instances, keyed by the moto object they serve."""

    def __init__(self, state_dir: Path) -> None:
        self._root = state_dir / "rds"
        self._lock = threading.Lock()
        self._starts_done = threading.Condition(self._lock)
        self._starting = 0
        self._closed = False
        self._servers: dict[int, tuple[Any, PostgresServer]] = {}
        # Left by an emulator that did not exit cleanly: no instance of this one owns them.
        shutil.rmtree(self._root, ignore_errors=True)

    def server_of(self, instance: Any) -> PostgresServer | None:
        with self._lock:
            entry = self._servers.get(id(instance))
        return entry[1] if entry and entry[0] is instance else None

    def start(self, instance: Any, password: str) -> PostgresServer:
        identifier = instance.db_instance_identifier
        directory = self._root / f"{identifier}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            if self._closed:
                raise RuntimeError("the emulator is stopping")
            self._starting += 1
        try:
            server = rds_server.start(
                directory, instance.master_username, password, instance.db_name
            )
            with self._lock:
                closed = self._closed
                if not closed:
                    self._servers[id(instance)] = (instance, server)
            if closed:
                server.stop()
                raise RuntimeError("the emulator is stopping")
        finally:
            with self._lock:
                self._starting -= 1
                self._starts_done.notify_all()
        print(
            f"rds: DB instance {identifier}: PostgreSQL {server.version} started on "
            f"{server.host}:{server.port} (pid {server.pid})",
            flush=True,
        )
        return server

    def stop(self, instance: Any) -> None:
        with self._lock:
            entry = self._servers.pop(id(instance), None)
        if entry is not None:
            self._stopped(instance.db_instance_identifier, entry[1])

    def close(self) -> None:
        """Stops every server, including those a request is still starting (the request
        threads die with the emulator; their servers would not)."""
        with self._lock:
            self._closed = True
            self._starts_done.wait_for(lambda: self._starting == 0)
            entries = list(self._servers.values())
            self._servers.clear()
        for instance, server in entries:
            self._stopped(instance.db_instance_identifier, server)

    @staticmethod
    def _stopped(identifier: str, server: PostgresServer) -> None:
        server.stop()
        print(f"rds: DB instance {identifier}: PostgreSQL stopped (pid {server.pid})", flush=True)


def _validate(db_kwargs: dict[str, Any]) -> None:
    """What AWS checks for a postgres instance and the server needs (names reach SQL)."""
    from moto.rds.exceptions import InvalidParameterValue

    username = db_kwargs.get("master_username")
    if not isinstance(username, str) or not _NAME.fullmatch(username):
        raise InvalidParameterValue(
            "MasterUsername must be 1 to 63 letters, digits or underscores, starting with a letter"
        )
    name = db_kwargs.get("db_name")
    if name is not None and not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            "DBName must be 1 to 63 letters, digits or underscores, starting with a letter"
        )
    if db_kwargs.get("manage_master_user_password"):
        return
    password = db_kwargs.get("master_user_password")
    if (
        not isinstance(password, str)
        or not _PASSWORD.fullmatch(password)
        or _PASSWORD_FORBIDDEN & set(password)
    ):
        raise InvalidParameterValue(
            "MasterUserPassword must be 8 to 128 printable ASCII characters other than "
            "/ ' \" @ and space (or set ManageMasterUserPassword)"
        )


def _master_password(instance: Any) -> str:
    if instance.manage_master_user_password:
        return str(json.loads(instance.master_user_secret.secret.secret_string)["password"])
    return str(instance._master_user_password)


def _managed_secret_as_aws_stores_it() -> None:
    from moto.rds.models import MasterUserSecret

    def secret_string(self: Any) -> str:
        return json.dumps(
            {"username": self.resource.master_username, "password": secrets.token_urlsafe(30)}
        )

    MasterUserSecret._generate_secret_string = secret_string  # type: ignore[method-assign]


def _served_instances(databases: Databases) -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBInstance, RDSBackend

    create = RDSBackend.create_db_instance
    delete = RDSBackend.delete_db_instance
    address = DBInstance.address

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        if db_kwargs.get("engine") != "postgres" or db_kwargs.get("db_cluster_identifier"):
            return create(self, db_kwargs)
        _validate(db_kwargs)
        instance = create(self, db_kwargs)
        identifier = instance.db_instance_identifier
        instance.status = "creating"
        try:
            server = databases.start(instance, _master_password(instance))
        except Exception as error:
            instance.deletion_protection = False
            delete(self, identifier, skip_final_snapshot=True)
            raise RDSClientError(
                "InternalFailure",
                f"the emulator could not start PostgreSQL for DB instance {identifier}: {error}",
            ) from error
        if self.databases.get(identifier) is not instance:
            databases.stop(instance)  # deleted while it was creating
        instance.port = server.port
        instance.status = "available"
        return instance

    def delete_db_instance(self: Any, *args: Any, **kwargs: Any) -> Any:
        instance = delete(self, *args, **kwargs)
        databases.stop(instance)
        return instance

    def served_address(self: Any) -> str:
        server = databases.server_of(self)
        return server.host if server is not None else str(address.fget(self))  # type: ignore[attr-defined]

    RDSBackend.create_db_instance = create_db_instance  # type: ignore[method-assign]
    RDSBackend.delete_db_instance = delete_db_instance  # type: ignore[method-assign]
    DBInstance.address = property(served_address)  # type: ignore[method-assign,assignment]


def install(state_dir: Path) -> Databases:
    """Patches moto in this process (once); the caller closes the result when the emulator
    exits."""
    global _installed
    if _installed:
        raise RuntimeError("dagster_ecs_emulator.rds is already installed in this process")
    _installed = True
    databases = Databases(state_dir)
    _managed_secret_as_aws_stores_it()
    _served_instances(databases)
    return databases
