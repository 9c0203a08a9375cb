"""Seeds the emulated AWS account with the platform's own resources.

The same resources are declared in ``infrastructure/`` for real AWS. Locally the emulator creates
them as it boots (``python -m localstack.server --seed FILE``), in moto's backends and before it
answers its first request: the dozen API calls this replaces, each paying for a boto3 client and
moto's first request to a service, took a second of ``make dev``'s start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class SeedSpec:
    region: str
    bucket: str
    cluster: str
    namespace: str
    postgres_secret_name: str
    postgres_secret: dict[str, str | int]
    log_groups: tuple[str, ...]

    def write(self, path: Path) -> None:
        """Readable by its owner only: the spec holds the database password."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            json.dump(asdict(self), file)

    @classmethod
    def take(cls, path: Path) -> SeedSpec:
        """Reads the spec that :meth:`write` wrote and removes the file."""
        data = json.loads(path.read_text())
        path.unlink()
        return cls(**{**data, "log_groups": tuple(data["log_groups"])})


def seed(spec: SeedSpec) -> None:
    """Creates the resources in this process's moto backends, which start empty."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import ecs_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.servicediscovery.models import servicediscovery_backends

    account, region = DEFAULT_ACCOUNT_ID, spec.region
    s3 = s3_backends[account]["aws"]
    s3.create_bucket(spec.bucket, region)
    s3.put_bucket_versioning(spec.bucket, "Enabled")
    secretsmanager_backends[account][region].create_secret(
        name=spec.postgres_secret_name,
        secret_string=json.dumps(spec.postgres_secret),
        secret_binary=None,
        description="",
        tags=[],
        kms_key_id=None,
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    ecs_backends[account][region].create_cluster(spec.cluster)
    vpc = ec2_backends[account][region].get_default_vpc()
    if vpc is None:
        raise LookupError(f"the emulator has no default VPC in {region}")
    servicediscovery_backends[account][region].create_private_dns_namespace(
        name=spec.namespace,
        creator_request_id=None,  # type: ignore[arg-type]
        description=None,  # type: ignore[arg-type]
        vpc=vpc.id,
        tags=[],
        properties={},
    )
    for name in spec.log_groups:
        logs_backends[account][region].create_log_group(name, {})


def ensure_role(
    endpoint_url: str, region: str, name: str, trust: dict[str, Any], policy: dict[str, Any]
) -> str:
    """Creates (or updates the inline policy of) an IAM role; returns its ARN."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return str(arn)
