"""A started local stack's identity: its stack file, and the check that an endpoint is its own.

``dev up`` writes ``<state_dir>/stack.json`` before it starts anything and gives the emulator the
same id. Any command that is about to act on a stack's emulator first asks it who it is
(:mod:`dagster_ecs_emulator.identity`) and refuses when the answer is another stack's id.
"""

from __future__ import annotations

import os
import time
import uuid

import requests
from pydantic import BaseModel, ValidationError

from dagster_ecs_emulator.identity import IDENTITY_PATH, StackIdentity
from repository_manager.settings import Ports, StackSettings


class StackError(RuntimeError):
    """A one-line, actionable reason why a stack command cannot go on."""


class StackFile(BaseModel):
    stack_id: str
    state_dir: str
    host: str
    ports: Ports
    emulator_url: str
    webserver_url: str
    started_at: float
    pids: dict[str, int] = {}


def new_stack(settings: StackSettings) -> StackSettings:
    """The settings of a stack about to start, with a new id, recorded in its stack file."""
    started = settings.model_copy(update={"stack_id": uuid.uuid4().hex[:12]})
    write(started)
    return started


def write(settings: StackSettings, pids: dict[str, int] | None = None) -> None:
    assert settings.stack_id is not None
    record = StackFile(
        stack_id=settings.stack_id,
        state_dir=str(settings.state_dir),
        host=settings.host,
        ports=settings.ports,
        emulator_url=settings.emulator_url,
        webserver_url=settings.webserver_url,
        started_at=time.time(),
        pids=pids or {},
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    temporary = settings.stack_file.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(record.model_dump_json(indent=2))
    os.replace(temporary, settings.stack_file)


def remove(settings: StackSettings) -> None:
    settings.stack_file.unlink(missing_ok=True)


def emulator_identity(url: str, timeout: float = 2.0) -> StackIdentity | None:
    """Who the emulator at ``url`` says it is; None when nothing answers or it is no stack's."""
    try:
        response = requests.get(f"{url}{IDENTITY_PATH}", timeout=timeout)
    except requests.RequestException:
        return None
    if not response.ok:
        return None
    try:
        return StackIdentity.model_validate(response.json())
    except (ValueError, ValidationError):
        return None


def foreign_emulator(settings: StackSettings) -> str | None:
    """Why the emulator answering on the stack's endpoint is not this stack's, if it is not."""
    identity = emulator_identity(settings.emulator_url)
    if identity is None or identity.stack_id == settings.stack_id:
        return None
    other = f" (state folder {identity.state_dir})" if identity.state_dir else ""
    return (
        f"the emulator on {settings.emulator_url} belongs to another stack{other}, "
        f"not to the one in {settings.state_dir}; refusing to act on it"
    )


def is_own(settings: StackSettings) -> bool:
    """Whether this stack was started and its own emulator answers on its endpoint."""
    if settings.stack_id is None:
        return False
    identity = emulator_identity(settings.emulator_url)
    return identity is not None and identity.stack_id == settings.stack_id


def require_own(settings: StackSettings) -> None:
    """Raises :class:`StackError` unless this stack runs and its emulator is its own."""
    if is_own(settings):
        return
    if settings.stack_id is not None and (reason := foreign_emulator(settings)) is not None:
        raise StackError(reason)
    raise StackError(
        f"the local stack of {settings.state_dir} is not running; start it with `make dev`"
    )
