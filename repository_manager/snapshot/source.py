"""Which environment a snapshot reads: the dev stack, or an applied tofu environment (on the
emulator, or AWS with the caller's own credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repository_manager import environments
from repository_manager.deploy import DeployError
from repository_manager.deploy_targets import tofu_target
from repository_manager.infra import InfraError
from repository_manager.infra.runner import InfraRunner
from repository_manager.settings import LOCAL_BUCKET, StackSettings
from repository_manager.snapshot.capture import take
from repository_manager.snapshot.model import Snapshot, SnapshotError
from repository_manager.snapshot.reader import Reader


@dataclass(frozen=True)
class SnapshotSource:
    env: str
    cluster: str
    bucket: str
    region: str
    endpoint: str | None
    reader: Reader

    webserver_url: str | None = None

    def snapshot(self, run_id: str | None = None) -> Snapshot:
        return take(
            self.reader,
            region=self.region,
            cluster=self.cluster,
            bucket=self.bucket,
            endpoint=self.endpoint,
            webserver_url=self.webserver_url,
            run_id=run_id,
        )


def open_source(
    env: str, emulator_url: str | None = None, webserver_url: str | None = None
) -> SnapshotSource:
    try:
        environments.check_emulator_url(env, emulator_url)
        if env == "dev":
            dev = environments.resolve("dev")
            return SnapshotSource(
                env,
                dev.cluster,
                LOCAL_BUCKET,
                dev.region,
                dev.endpoint_url,
                Reader(dev.client, env),
                webserver_url or StackSettings.from_env().webserver_url,
            )
        runner = InfraRunner(env, emulator_url=emulator_url, stream=False)
        target = tofu_target(runner)
        webserver_url = webserver_url or _tofu_webserver(runner)
    except (environments.TargetError, DeployError, InfraError) as error:
        raise SnapshotError(str(error)) from None
    platform = target.platform

    def client(service: str) -> Any:
        return target.client(service)

    return SnapshotSource(
        env,
        platform.cluster,
        platform.bucket,
        platform.region,
        target.endpoint_url,
        Reader(client, env),
        webserver_url,
    )


def _tofu_webserver(runner: InfraRunner) -> str | None:
    """The environment's Dagster webserver: locally on loopback at its applied port; on AWS
    behind the load balancer (``tofu output load_balancer_url``)."""
    if runner.env == "local":
        port = runner.variables.get("webserver_port") or runner.local_ports()["webserver_port"]
        return f"http://127.0.0.1:{port}"
    url = runner.outputs().get("load_balancer_url")
    return str(url) if url else None
