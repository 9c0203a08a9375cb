"""Readiness probes of the local stack's components: ``None`` when healthy, else why not."""

from __future__ import annotations

import socket

import requests

from repository_manager.dagster_api import DagsterApi
from repository_manager.devstack import components as c
from repository_manager.devstack import postgres
from repository_manager.settings import MAIN_LOCATION, StackSettings


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def emulator(settings: StackSettings) -> str | None:
    try:
        ok = requests.get(f"{settings.emulator_url}/moto-api/", timeout=2).ok
    except requests.RequestException as error:
        return type(error).__name__
    return None if ok else "emulator answered with an error"


def postgres_ready(settings: StackSettings, password: str) -> str | None:
    import psycopg2

    try:
        psycopg2.connect(
            host=settings.host,
            port=settings.ports.postgres,
            user=postgres.DB_USER,
            password=password,
            dbname="postgres",
            connect_timeout=2,
        ).close()
    except psycopg2.OperationalError as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else "not accepting"
    return None


def code_server(settings: StackSettings) -> str | None:
    if not _port_open(settings.host, settings.ports.code_server):
        return "gRPC port not open"
    return None


def webserver(settings: StackSettings) -> str | None:
    api = DagsterApi(settings.webserver_url, timeout=3)
    try:
        if not api.server_info_ok():
            return "server_info failed"
        status = api.location_statuses().get(MAIN_LOCATION)
    except requests.RequestException as error:
        return type(error).__name__
    if status != "LOADED":
        return f"code location {MAIN_LOCATION!r} is {status or 'missing'}"
    return None


def daemon(settings: StackSettings) -> str | None:
    api = DagsterApi(settings.webserver_url, timeout=3)
    try:
        unhealthy = api.unhealthy_daemons()
    except requests.RequestException as error:
        return f"webserver unreachable ({type(error).__name__})"
    return f"no heartbeat yet from {', '.join(unhealthy)}" if unhealthy else None


def check(name: str, settings: StackSettings, password: str | None) -> str | None:
    if name == c.EMULATOR:
        return emulator(settings)
    if name == c.POSTGRES:
        return postgres_ready(settings, password or "")
    if name == c.CODE_SERVER:
        return code_server(settings)
    if name == c.WEBSERVER:
        return webserver(settings)
    if name == c.DAEMON:
        return daemon(settings)
    raise ValueError(f"unknown component {name!r}")
