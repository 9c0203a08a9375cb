"""Which AWS a command talks to: ``dev`` (the `make dev` stack), ``local`` (the tofu
environment applied to that stack's emulator) or ``aws`` (ap-southeast-2).

``dev`` and ``local`` take the endpoint from the stack file of the state folder and refuse an
emulator that is not that stack's own; ``aws`` uses the standard credential chain and says in
one line what to set when it finds no credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from repository_manager import credentials, stackfile
from repository_manager.settings import CLUSTER_NAME, REGION, StackSettings

ENVIRONMENTS = ("dev", "local", "aws")
TOFU_LOCAL_NAME = "dagster-ecs-tf"
"""The name (cluster, roles, prefix) of the tofu environment on the emulator:
``infrastructure/envs/local``'s ``name``, not the dev stack's, so both live in one emulator."""


class TargetError(RuntimeError):
    """A one-line reason why an environment cannot be reached, saying what to do."""


@dataclass(frozen=True)
class Environment:
    name: str
    cluster: str
    endpoint_url: str | None
    region: str = REGION
    settings: StackSettings | None = None

    def client(self, service: str) -> Any:
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5)
        if self.endpoint_url is None:
            return boto3.client(service, region_name=self.region, config=config)  # type: ignore[call-overload]
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=config,
            **credentials.for_stack(self.settings).client_kwargs(),
        )


def check_name(name: str) -> None:
    if name not in ENVIRONMENTS:
        raise TargetError(f"unknown environment {name!r}: use one of {', '.join(ENVIRONMENTS)}")


def check_emulator_url(name: str, emulator_url: str | None) -> None:
    """``--emulator-url`` names the emulator a ``local`` environment lives in; it means nothing
    for the dev stack (its own emulator) or AWS, so it is refused there rather than ignored."""
    check_name(name)
    if emulator_url is not None and name != "local":
        raise TargetError(f"--emulator-url is for --env local, not --env {name}")


def resolve(name: str, settings: StackSettings | None = None) -> Environment:
    check_name(name)
    if name == "aws":
        environment = Environment(
            "aws", CLUSTER_NAME, None, os.environ.get("AWS_DEFAULT_REGION") or REGION
        )
        check_credentials(environment)
        return environment
    settings = settings or StackSettings.from_env()
    try:
        stackfile.require_own(settings)
    except stackfile.StackError as error:
        raise TargetError(str(error)) from None
    cluster = CLUSTER_NAME if name == "dev" else TOFU_LOCAL_NAME
    return Environment(name, cluster, settings.emulator_url, settings=settings)


def check_credentials(environment: Environment) -> None:
    try:
        environment.client("sts").get_caller_identity()
    except NoCredentialsError:
        raise TargetError(
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, for the account the stack lives in"
        ) from None
    except (ClientError, BotoCoreError) as error:
        raise TargetError(
            f"the AWS credentials were refused ({' '.join(str(error).split())}); set AWS_PROFILE "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the account the stack lives in"
        ) from None
