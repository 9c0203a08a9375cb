"""The Repository Manager Service: the repository verbs over HTTP, for CI jobs without a shell.

``dagster-ecs repo serve`` runs it (uvicorn, loopback unless told otherwise). Every request but
the OpenAPI schema needs ``Authorization: Bearer <token>``; the token lives in Secrets Manager
(:data:`TOKEN_SECRET`), never in a file or the process's arguments. Input is validated as the
CLI validates it, before anything is created, and every error is one line in ``detail``.
Adding, updating and removing take seconds to minutes: they answer 202 with an operation to
poll at ``/operations/{id}``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any, Literal

from botocore.exceptions import ClientError
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from repository_manager.repos import manager
from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import Conflict, NotFound, RepoError

TOKEN_SECRET = "dagster-ecs/repository-manager-token"


class Operation(BaseModel):
    id: str
    kind: Literal["add", "update", "remove"]
    repository: str
    status: Literal["running", "succeeded", "failed"] = "running"
    progress: list[str] = Field(default_factory=list)
    error: str | None = None
    details: list[str] = Field(default_factory=list)


class Accepted(BaseModel):
    operation: str
    url: str


class Problem(BaseModel):
    detail: str


def ensure_token(secretsmanager: Any) -> str:
    """The service's bearer token from Secrets Manager; created (random) when missing."""
    try:
        return str(secretsmanager.get_secret_value(SecretId=TOKEN_SECRET)["SecretString"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    token = secrets.token_urlsafe(32)
    secretsmanager.create_secret(
        Name=TOKEN_SECRET,
        SecretString=token,
        Description="Bearer token of the Repository Manager Service (dagster-ecs repo serve)",
    )
    return token


class Operations:
    """Long operations run on their own thread; their progress is kept to be polled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: dict[str, Operation] = {}

    def start(
        self, kind: Literal["add", "update", "remove"], repository: str, work: Callable[..., Any]
    ) -> Operation:
        operation = Operation(id=uuid.uuid4().hex, kind=kind, repository=repository)
        with self._lock:
            self._all[operation.id] = operation

        def progress(line: str) -> None:
            with self._lock:
                operation.progress.append(line)

        def run() -> None:
            try:
                work(progress)
                status: Literal["succeeded", "failed"] = "succeeded"
                error, details = None, []
            except RepoError as failure:
                status, error, details = "failed", str(failure), list(failure.details)
            except Exception as failure:
                status, error, details = "failed", f"{type(failure).__name__}: {failure}", []
            with self._lock:
                operation.status, operation.error, operation.details = status, error, details

        threading.Thread(target=run, name=f"{kind}-{repository}", daemon=True).start()
        return operation

    def get(self, operation_id: str) -> Operation | None:
        with self._lock:
            found = self._all.get(operation_id)
            return found.model_copy(deep=True) if found else None


def create_app(target: Callable[[], manager.RepoTarget], token: str) -> FastAPI:
    app = FastAPI(
        title="dagster-ecs Repository Manager",
        description="Git repositories as isolated Dagster code locations.",
        version="1",
    )
    operations = Operations()

    def authorised(authorization: str = Header(default="")) -> None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401,
                "missing or wrong bearer token: send Authorization: Bearer <token> (Secrets "
                f"Manager secret {TOKEN_SECRET})",
            )

    @app.exception_handler(RequestValidationError)
    async def one_line_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in e['loc'] if part != 'body')}: {e['msg']}"
            for e in error.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(RepoError)
    async def repo_error(_: Request, error: RepoError) -> JSONResponse:
        status = 404 if isinstance(error, NotFound) else 409 if isinstance(error, Conflict) else 400
        return JSONResponse({"detail": str(error)}, status_code=status)

    def accepted(request: Request, operation: Operation) -> JSONResponse:
        url = str(request.url_for("operation", operation_id=operation.id))
        body = Accepted(operation=operation.id, url=url)
        return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})

    @app.get("/repos", dependencies=[Depends(authorised)])
    def list_repositories() -> list[manager.RepoRow]:
        return manager.list_repos(target())

    @app.get(
        "/repos/{name}", dependencies=[Depends(authorised)], responses={404: {"model": Problem}}
    )
    def repository(name: str) -> RepoConfig:
        found = target().registry.get(name)
        if found is None:
            raise NotFound(f"no repository {name!r} is registered")
        return found[0]

    @app.post(
        "/repos",
        status_code=202,
        dependencies=[Depends(authorised)],
        responses={400: {"model": Problem}, 409: {"model": Problem}},
    )
    def add(body: manager.AddRequest, request: Request) -> JSONResponse:
        where = target()
        problems = RepoConfig.problems(body.model_dump(exclude_none=True))
        if problems:
            raise RepoError("; ".join(problems))
        manager.validate_new(where, RepoConfig.parse(body.model_dump(exclude_none=True)))
        operation = operations.start(
            "add", body.name, lambda progress: manager.add_repo(where, body, progress)
        )
        return accepted(request, operation)

    @app.post("/repos/{name}/update", status_code=202, dependencies=[Depends(authorised)])
    def update(name: str, request: Request) -> JSONResponse:
        where = target()
        manager.registered(where, name)
        operation = operations.start(
            "update", name, lambda progress: manager.update_repo(where, name, progress)
        )
        return accepted(request, operation)

    @app.delete("/repos/{name}", status_code=202, dependencies=[Depends(authorised)])
    def remove(name: str, request: Request, purge: bool = False) -> JSONResponse:
        where = target()
        manager.registered(where, name)
        operation = operations.start(
            "remove",
            name,
            lambda progress: manager.remove_repo(where, name, purge=purge, progress=progress),
        )
        return accepted(request, operation)

    @app.get(
        "/operations/{operation_id}",
        name="operation",
        dependencies=[Depends(authorised)],
        responses={404: {"model": Problem}},
    )
    def operation(operation_id: str) -> Operation:
        found = operations.get(operation_id)
        if found is None:
            raise HTTPException(404, f"no operation {operation_id!r}")
        return found

    return app


__all__ = ["TOKEN_SECRET", "create_app", "ensure_token"]
