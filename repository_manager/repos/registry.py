"""The repository registry: ``repos/{name}/config.yml`` in the platform bucket (what tofu reads
too), written with S3 conditional writes so two commands never corrupt it.

A change to one repository holds its lock, ``registry/locks/{name}.json``, created only if absent
(``If-None-Match: *``): a second command on the same name fails at once and creates nothing.
A registration is created the same way, so it never overwrites another; an update replaces it
only if it is still the version read (``If-Match``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import Conflict, RepoError

LOCKS = "registry/locks"


def config_key(name: str) -> str:
    return f"repos/{name}/config.yml"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Registry:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def names(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="repos/", Delimiter="/"
        )
        prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
        names = []
        for prefix in prefixes:
            name = prefix.removeprefix("repos/").rstrip("/")
            if self.get(name) is not None:
                names.append(name)
        return sorted(names)

    def get(self, name: str) -> tuple[RepoConfig, str] | None:
        """The registered config and its ETag, or None when ``name`` is not registered."""
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=config_key(name))
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                return None
            raise
        return RepoConfig.from_yaml(found["Body"].read().decode()), str(found["ETag"])

    def create(self, config: RepoConfig) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=config_key(config.name),
                Body=config.to_yaml().encode(),
                ContentType="application/yaml",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _code(error) == "PreconditionFailed":
                raise Conflict(f"repository {config.name!r} is already registered") from None
            raise

    def replace(self, config: RepoConfig, etag: str) -> str:
        """Writes ``config`` if the entry is still at ``etag``; returns the new ETag."""
        try:
            written = self.s3.put_object(
                Bucket=self.bucket,
                Key=config_key(config.name),
                Body=config.to_yaml().encode(),
                ContentType="application/yaml",
                IfMatch=etag,
            )
        except ClientError as error:
            if _code(error) == "PreconditionFailed":
                raise RepoError(
                    f"repository {config.name!r} changed while this command ran; run it again"
                ) from None
            raise
        return str(written["ETag"])

    def delete(self, name: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=config_key(name))

    @contextlib.contextmanager
    def lock(self, name: str, operation: str) -> Iterator[None]:
        key = f"{LOCKS}/{name}.json"
        holder = {
            "operation": operation,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=json.dumps(holder).encode(), IfNoneMatch="*"
            )
        except ClientError as error:
            if _code(error) != "PreconditionFailed":
                raise
            raise Conflict(
                f"repository {name!r} is being changed by another command ({self._holder(key)}); "
                f"wait for it, or if none runs delete s3://{self.bucket}/{key}"
            ) from None
        try:
            yield
        finally:
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def _holder(self, key: str) -> str:
        try:
            body = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            return (
                f"{body['operation']} by pid {body['pid']} on {body['host']} since {body['since']}"
            )
        except (ClientError, ValueError, KeyError):
            return "unknown holder"
