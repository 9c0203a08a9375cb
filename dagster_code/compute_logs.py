"""Compute logs under each run's own code location prefix, for writers and readers alike.

Each repository's runs may write only under ``repos/{name}/`` (their task role), so a run's
stdout and stderr go to ``repos/{location}/logs/``. ``S3ComputeLogManager`` has one fixed prefix:
the webserver, configured with ``main``'s, showed no logs for any other location's runs. This
manager keeps the configured prefix for what belongs to no run, and finds a run's prefix from the
run's code location, in the run's own task (which writes) and in the webserver (which reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

LOCATION_PREFIX = "repos/{location}/logs"
_CACHED_RUNS = 1024


class LocationComputeLogManager(S3ComputeLogManager):
    """``S3ComputeLogManager`` whose prefix for a run's logs is ``repos/{location}/logs``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._run_prefixes: dict[str, str | None] = {}

    def _resolve_path_for_namespace(self, namespace: Sequence[str]) -> list[str]:
        prefix = self._run_prefix(namespace[0]) if namespace else None
        return [prefix or self._s3_prefix, "storage", *namespace]

    def delete_logs(
        self, log_key: Sequence[str] | None = None, prefix: Sequence[str] | None = None
    ) -> None:
        if log_key or not prefix:
            super().delete_logs(log_key=log_key, prefix=prefix)
            return
        self.local_manager.delete_logs(prefix=prefix)
        folder = "/".join([*self._resolve_path_for_namespace(prefix), ""])
        listed = self._s3_session.list_objects_v2(Bucket=self._s3_bucket, Prefix=folder)
        keys = [item["Key"] for item in listed.get("Contents", [])]
        if keys:
            objects: list[Any] = [{"Key": key} for key in keys]
            self._s3_session.delete_objects(Bucket=self._s3_bucket, Delete={"Objects": objects})

    def _run_prefix(self, run_id: str) -> str | None:
        if run_id in self._run_prefixes:
            return self._run_prefixes[run_id]
        if not self.has_instance:
            return None
        run = self._instance.get_run_by_id(run_id)
        origin = run.remote_job_origin if run is not None else None
        prefix = LOCATION_PREFIX.format(location=origin.location_name) if origin else None
        if len(self._run_prefixes) >= _CACHED_RUNS:
            self._run_prefixes.clear()
        self._run_prefixes[run_id] = prefix
        return prefix
