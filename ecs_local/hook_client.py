"""HTTP client of the emulator hook's internal routes (``dagster_ecs_emulator.ecs_hook``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from dagster_ecs_emulator.ecs_protocol import (
    AssumeRoleRequest,
    Report,
    RoleCredentials,
    ServiceTaskRequest,
)


class HookError(RuntimeError):
    pass


class HookClient:
    def __init__(self, endpoint: str) -> None:
        self.base = endpoint.rstrip("/") + "/_ecs_local/"

    def _call(self, route: str, body: dict[str, Any] | None, timeout: float) -> Any:
        data = None if body is None else json.dumps(body, default=str).encode()
        request = urllib.request.Request(
            self.base + route, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            if error.code == 404:
                raise HookError(
                    f"the emulator at {self.base} has no ECS hook (start it with "
                    "`python -m dagster_ecs_emulator.server`, without --no-ecs-hook)"
                ) from error
            raise HookError(f"{route}: HTTP {error.code}: {detail}") from error

    def snapshot(self, since: int = -1, wait: float = 0.0) -> dict[str, Any]:
        result: dict[str, Any] = self._call(f"snapshot?since={since}&wait={wait}", None, wait + 10)
        return result

    def create_service_task(self, request: ServiceTaskRequest) -> dict[str, Any]:
        result: dict[str, Any] = self._call("service-tasks", request.wire(), 10)
        return result

    def report(self, report: Report) -> None:
        self._call("report", report.wire(), 10)

    def assume_role(self, role_arn: str, session_name: str, region: str) -> dict[str, Any]:
        request = AssumeRoleRequest(role_arn=role_arn, session_name=session_name, region=region)
        answer = RoleCredentials.model_validate(self._call("assume-role", request.wire(), 10))
        return answer.model_dump(by_alias=True)
