"""AWS calls of a snapshot, each named by the IAM action it needs, so a refusal says which.

A snapshot only reads: every call here is a Describe, List or Get, and the policy of
:mod:`repository_manager.snapshot.policy` grants exactly these actions.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from repository_manager.snapshot.model import SnapshotError

IAM_PREFIX = {
    "ecs": "ecs",
    "application-autoscaling": "application-autoscaling",
    "servicediscovery": "servicediscovery",
    "iam": "iam",
    "s3": "s3",
}
ACTION_OF = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "GetObject+VersionId"): "s3:GetObjectVersion",
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"}
POLICY_HINT = "grant the policy `dagster-ecs snapshot --print-policy` prints"


def action_of(service: str, operation: str, kwargs: dict[str, Any]) -> str:
    variant = f"{operation}+VersionId" if "VersionId" in kwargs else operation
    return ACTION_OF.get((service, variant)) or f"{IAM_PREFIX[service]}:{operation}"


class Reader:
    """One environment's clients, read-only."""

    def __init__(self, client: Callable[[str], Any], env: str) -> None:
        self._factory = client
        self._clients: dict[str, Any] = {}
        self.env = env

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client(service), xform_name(operation))
        try:
            return dict(method(**kwargs))
        except ClientError as error:
            raise self._refusal(error, service, operation, kwargs) from None
        except BotoCoreError as error:
            raise SnapshotError(f"cannot read environment {self.env}: {error}") from None

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        paginator = self._client(service).get_paginator(xform_name(operation))
        found: list[Any] = []
        try:
            for page in paginator.paginate(**kwargs):
                found.extend(page.get(key, []))
        except ClientError as error:
            raise self._refusal(error, service, operation, kwargs) from None
        except BotoCoreError as error:
            raise SnapshotError(f"cannot read environment {self.env}: {error}") from None
        return found

    def missing(self, error: ClientError) -> bool:
        code = str(error.response.get("Error", {}).get("Code", ""))
        return code in {"NoSuchKey", "404", "NoSuchEntity", "NotFound"}

    def _refusal(
        self, error: ClientError, service: str, operation: str, kwargs: dict[str, Any]
    ) -> Exception:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in DENIED:
            return SnapshotError(
                f"the snapshot needs {action_of(service, operation, kwargs)}, which environment "
                f"{self.env} refused ({code}); {POLICY_HINT}"
            )
        if code in BAD_CREDENTIALS:
            return SnapshotError(
                f"environment {self.env} does not accept these credentials ({code}): set "
                "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for its account"
            )
        return error

    def object_text(self, bucket: str, key: str, version_id: str | None = None) -> bytes | None:
        """An object's bytes, or ``None`` when it does not exist."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id is not None:
            kwargs["VersionId"] = version_id
        try:
            found = self._client("s3").get_object(**kwargs)
        except ClientError as error:
            if self.missing(error):
                return None
            raise self._refusal(error, "s3", "GetObject", kwargs) from None
        except BotoCoreError as error:
            raise SnapshotError(f"cannot read environment {self.env}: {error}") from None
        return bytes(found["Body"].read())


def policy_document(document: Any) -> dict[str, Any]:
    """IAM returns documents URL-encoded; botocore usually decodes them already."""
    if isinstance(document, str):
        return dict(json.loads(urllib.parse.unquote(document)))
    return dict(document)
