"""dagster_ecs_emulator.rds: an RDS PostgreSQL DB instance on the emulator is a real PostgreSQL
server, found at its Endpoint with the credentials of its managed secret; plain moto
(``--no-ecs-hook``) keeps the unreachable endpoint and the fixed secret, so a moto upgrade that
changes them shows up here."""

from __future__ import annotations

import json
import re
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg2
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import running_emulator, wait_for
from tests.integration.test_ecs_local_shims import plain_emulator

__all__ = ["plain_emulator"]


def _clients(url: str) -> tuple[Any, Any]:
    session = boto3.session.Session("test", "test", region_name="ap-southeast-2")
    return (
        session.client("rds", endpoint_url=url),
        session.client("secretsmanager", endpoint_url=url),
    )


def _create(rds: Any, **kwargs: Any) -> dict[str, Any]:
    """A db.t3.micro postgres instance the way the database module asks for one."""
    request = {
        "DBInstanceIdentifier": f"db-{uuid.uuid4().hex[:8]}",
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "AllocatedStorage": 20,
        "MasterUsername": "dagster",
        **kwargs,
    }
    return dict(rds.create_db_instance(**request)["DBInstance"])


def _secret(secretsmanager: Any, instance: dict[str, Any]) -> dict[str, str]:
    arn = instance["MasterUserSecret"]["SecretArn"]
    return dict(json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"]))


def _query(endpoint: dict[str, Any], user: str, password: str, dbname: str) -> tuple[Any, ...]:
    conn = psycopg2.connect(
        host=endpoint["Address"],
        port=endpoint["Port"],
        user=user,
        password=password,
        dbname=dbname,
        connect_timeout=5,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database(), 6 * 7")
            return tuple(cursor.fetchone() or ())
    finally:
        conn.close()


def _server(port: int) -> list[psutil.Process]:
    """The process listening on ``port`` and its descendants."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            postmaster = psutil.Process(conn.pid)
            return [postmaster, *postmaster.children(recursive=True)]
    raise AssertionError(f"nothing listens on port {port}")


def _status(rds: Any, name: str) -> str | None:
    try:
        (instance,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    except ClientError:
        return None
    return str(instance["DBInstanceStatus"])


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The result, or the exception raised."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return error


def _gone(processes: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)


def test_db_instance_is_a_reachable_postgres_with_the_managed_secret(emulator: str) -> None:
    rds, secretsmanager = _clients(emulator)
    created = _create(rds, DBName="dagster", ManageMasterUserPassword=True)
    name = created["DBInstanceIdentifier"]
    try:
        (described,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
        assert created["DBInstanceStatus"] == described["DBInstanceStatus"] == "available"
        endpoint = described["Endpoint"]
        assert endpoint["Address"] == "127.0.0.1"
        assert described["DbInstancePort"] == endpoint["Port"]
        secret = _secret(secretsmanager, described)
        assert secret["username"] == "dagster"
        assert len(secret["password"]) >= 20 and secret["password"] != "P@55w0rd!"

        assert _query(endpoint, "dagster", secret["password"], "dagster") == (
            "dagster",
            "dagster",
            42,
        )
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            _query(endpoint, "dagster", "P@55w0rd!", "dagster")
        server = _server(endpoint["Port"])
    except BaseException:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
        raise

    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    assert _gone(server)
    with pytest.raises(psycopg2.OperationalError, match="Connection refused"):
        _query(endpoint, "dagster", secret["password"], "dagster")


def test_db_instance_with_a_given_password_and_no_database(emulator: str) -> None:
    rds, _ = _clients(emulator)
    created = _create(rds, MasterUsername="owner", MasterUserPassword="given-password-1")
    try:
        assert "MasterUserSecret" not in created
        assert _query(created["Endpoint"], "owner", "given-password-1", "postgres") == (
            "owner",
            "postgres",
            42,
        )
    finally:
        rds.delete_db_instance(
            DBInstanceIdentifier=created["DBInstanceIdentifier"], SkipFinalSnapshot=True
        )


def test_db_instance_without_a_password_is_refused_and_nothing_is_created(emulator: str) -> None:
    rds, _ = _clients(emulator)
    name = f"db-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError, match="MasterUserPassword must be"):
        _create(rds, DBInstanceIdentifier=name)
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        rds.describe_db_instances(DBInstanceIdentifier=name)


def test_plain_moto_db_instance_is_metadata_only(plain_emulator: str) -> None:
    rds, secretsmanager = _clients(plain_emulator)
    created = _create(rds, DBName="dagster", ManageMasterUserPassword=True)
    name = created["DBInstanceIdentifier"]
    (described,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert described["Endpoint"] == {
        "Address": f"{name}.aaaaaaaaaa.ap-southeast-2.rds.amazonaws.com",
        "Port": 5432,
    }
    assert _secret(secretsmanager, described) == {"username": "admin", "password": "P@55w0rd!"}
    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)


def test_emulator_exit_stops_its_servers_and_removes_their_data(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "emulator.log"
    with running_emulator("--state-dir", str(state), log=log) as url:
        rds, secretsmanager = _clients(url)
        instances = [_create(rds, DBName="dagster", ManageMasterUserPassword=True) for _ in "ab"]
        passwords = [_secret(secretsmanager, instance)["password"] for instance in instances]
        servers = [p for i in instances for p in _server(i["Endpoint"]["Port"])]
        assert len(list((state / "rds").iterdir())) == 2
    assert _gone(servers)
    assert state.is_dir() and not list((state / "rds").iterdir())

    output = log.read_text()
    for instance in instances:
        name, port = instance["DBInstanceIdentifier"], instance["Endpoint"]["Port"]
        started = (
            rf"rds: DB instance {name}: PostgreSQL \d+ started on 127\.0\.0\.1:{port} \(pid (\d+)\)"
        )
        (pid,) = re.findall(started, output)
        assert re.findall(rf"rds: DB instance {name}: PostgreSQL stopped \(pid {pid}\)", output)
    assert not [password for password in passwords if password in output]


def test_ctrl_c_stops_the_servers_and_removes_the_temporary_state_dir() -> None:
    with running_emulator() as url:
        rds, _ = _clients(url)
        port = _create(rds, MasterUserPassword="given-password-1")["Endpoint"]["Port"]
        (postmaster, *others) = _server(port)
        data = Path(postmaster.cmdline()[postmaster.cmdline().index("-D") + 1])
        temporary = data.parents[2]
        assert temporary.name.startswith("dagster-ecs-emulator-") and temporary.is_dir()
        (emulator_process, *_) = _server(int(url.rsplit(":", 1)[1]))
        emulator_process.send_signal(signal.SIGINT)
        emulator_process.wait(timeout=30)
        assert _gone([postmaster, *others])
        assert not temporary.exists()


def test_exit_while_an_instance_is_creating_leaves_no_server(tmp_path: Path) -> None:
    """DescribeDBInstances says ``creating`` while the server starts; a SIGTERM then must not
    leave the server behind (the request's thread dies with the emulator, the server would not)."""
    state = tmp_path / "state"
    outcome: list[object] = []
    with running_emulator("--state-dir", str(state)) as url:
        rds, _ = _clients(url)
        name = f"db-{uuid.uuid4().hex[:8]}"
        creating = threading.Thread(
            target=lambda: outcome.append(
                _call(_create, rds, DBInstanceIdentifier=name, ManageMasterUserPassword=True)
            ),
        )
        creating.start()
        wait_for(
            lambda: _status(rds, name) == "creating", 30, "DescribeDBInstances to say creating"
        )
        (emulator_process, *_) = _server(int(url.rsplit(":", 1)[1]))
        emulator_process.terminate()
        emulator_process.wait(timeout=30)
        creating.join(timeout=30)
    assert outcome and not isinstance(outcome[0], dict), outcome
    assert not [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(state) in " ".join(p.info["cmdline"] or [])
    ]
    assert not list((state / "rds").iterdir())
