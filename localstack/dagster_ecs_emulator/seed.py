"""Seeds the emulated AWS account with the platform's own resources.

The same resources are declared in ``infrastructure/`` for real AWS. Locally the emulator creates
them as it boots (``python -m dagster_ecs_emulator.server --seed FILE``), in moto's backends and
before it answers its first request: the dozen API calls this replaces, each paying for a boto3
client and moto's first request to a service, took a second of ``make dev``'s start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    admin_user: str = ""
    """With IAM enforced, the control plane's own user (every action allowed), as an AWS
    account's administrator; its access key goes to ``credentials_file`` (0600)."""
    credentials_file: str = ""

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
    if spec.admin_user:
        seed_admin(account, spec.admin_user, Path(spec.credentials_file))


ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def seed_admin(account: str, user: str, credentials_file: Path) -> None:
    """The administrator's user and access key, written readable by its owner only."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["global"]
    backend.create_user(region_name="us-east-1", user_name=user, path="/", tags=[])
    backend.put_user_policy(user, "administrator", json.dumps(ADMIN_POLICY))
    key = backend.create_access_key(user_name=user)
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.unlink(missing_ok=True)
    descriptor = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(
            {
                "aws_access_key_id": key.access_key_id,
                "aws_secret_access_key": key.secret_access_key,
            },
            file,
        )


def ensure_role(iam: Any, name: str, trust: dict[str, Any], policy: dict[str, Any]) -> str:
    """Creates (or updates the inline policy of) an IAM role; returns its ARN."""
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
