"""AWS clients for the infra commands, and what the emulator can and cannot do."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from repository_manager.credentials import Credentials, for_stack
from repository_manager.settings import StackSettings

REGION = "ap-southeast-2"
_PROBE_ARN = "arn:aws:application-autoscaling:ap-southeast-2:123456789012:scalable-target/probe"


def client(service: str, endpoint_url: str | None) -> Any:
    """A client for AWS (``endpoint_url`` None) or for the emulator (as the stack's
    administrator where ``endpoint_url`` is the stack's own, else with placeholder keys)."""
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20
    )
    if endpoint_url is None:
        return boto3.client(service, region_name=REGION, config=config)  # type: ignore[call-overload]
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=config,
        **emulator_credentials(endpoint_url).client_kwargs(),
    )


def emulator_credentials(endpoint_url: str) -> Credentials:
    settings = StackSettings.from_env()
    return for_stack(settings if settings.emulator_url == endpoint_url else None)


def s3_client(endpoint_url: str | None) -> Any:
    return client("s3", endpoint_url)


def autoscaling_tags_supported(endpoint_url: str) -> bool:
    """False when the emulator answers application-autoscaling ListTagsForResource with a 5xx.

    The AWS provider reads a scalable target's tags after creating it; moto 5.2.5 has no such
    action, so the target cannot be applied there until the emulator fills the gap.
    """
    try:
        client("application-autoscaling", endpoint_url).list_tags_for_resource(
            ResourceARN=_PROBE_ARN
        )
    except ClientError as error:
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return status < 500
    except BotoCoreError:
        return False
    return True
