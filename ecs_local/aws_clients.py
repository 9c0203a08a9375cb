"""The runtime's own AWS clients, against the emulator: as itself, or as a role it assumes
(a task's execution role reads its secrets and ships its logs, so IAM decides as on AWS)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3

from ecs_local.hook_client import HookClient


class AwsClients:
    """One cached client per (service, region, role); role credentials renewed 5 min early."""

    def __init__(self, endpoint: str, hook: HookClient, region: str) -> None:
        self.endpoint = endpoint
        self.hook = hook
        self.region = region
        self.session = boto3.session.Session()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._role_credentials: dict[str, dict[str, Any]] = {}

    def client(self, service: str, region: str | None = None, role_arn: str | None = None) -> Any:
        region = region or self.region
        key = (service, region, role_arn or "")
        if key not in self._clients:
            kwargs: dict[str, Any] = {"region_name": region, "endpoint_url": self.endpoint}
            if role_arn:
                creds = self.role_credentials(role_arn, "ecs-local-execution")
                kwargs.update(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["Token"],
                )
            self._clients[key] = self.session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[key]

    def role_credentials(self, role_arn: str, session_name: str) -> dict[str, Any]:
        cached = self._role_credentials.get(role_arn)
        if cached and cached["_expires"] - time.time() > 300:
            return cached
        result = self.hook.assume_role(role_arn, session_name, self.region)
        expires = dt.datetime.strptime(result["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        result["_expires"] = expires.replace(tzinfo=dt.UTC).timestamp()
        self._role_credentials[role_arn] = result
        return result
