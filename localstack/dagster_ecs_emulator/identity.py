"""Which stack an emulator belongs to: served at ``GET /_dagster_ecs/stack``.

Every command that acts on a local stack first asks the emulator at the stack's endpoint for
its identity and refuses to go on when the id is not the one in its own stack file: a port
taken from the wrong shell can never make one checkout's ``make stop`` drain another's services.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

IDENTITY_PATH = "/_dagster_ecs/stack"


class StackIdentity(BaseModel):
    stack_id: str
    state_dir: str


def identity_app(app: Any, identity: StackIdentity) -> Callable[..., Iterable[bytes]]:
    """Wraps a WSGI app: the identity path answers with ``identity``, the rest goes to ``app``."""
    body = json.dumps(identity.model_dump()).encode()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == IDENTITY_PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return wrapped
