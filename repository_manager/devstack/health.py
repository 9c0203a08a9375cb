"""Readiness probes of the local stack's components: ``None`` when healthy, else why not."""

from __future__ import annotations

from pathlib import Path

import requests

from dagster_ecs_emulator import postgres
from repository_manager.dagster_api import DagsterApi
from repository_manager.devstack import components as c
from repository_manager.devstack import processes
from repository_manager.settings import MAIN_LOCATION, StackSettings


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


def ecs_runtime(log_path: Path) -> str | None:
    lines = processes.last_lines(log_path, 200)
    return None if any("ecs_local ready" in line for line in lines) else "not ready yet"


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
    """Health of one supervised process of the stack."""
    if name == c.EMULATOR:
        return emulator(settings)
    if name == c.POSTGRES:
        return postgres_ready(settings, password or "")
    if name == c.ECS_RUNTIME:
        return ecs_runtime(settings.logs_dir / f"{c.ECS_RUNTIME}.log")
    raise ValueError(f"unknown component {name!r}")


def dagster(settings: StackSettings) -> str | None:
    """Health of the Dagster services: UI up, main location loaded, daemons heartbeating."""
    return webserver(settings) or daemon(settings)
