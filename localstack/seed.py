"""Seeds the emulated AWS account with the platform's own resources (idempotent).

The same resources are declared in ``infrastructure/`` for real AWS; locally they are created
here so that ``make dev`` works before any ``tofu apply``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

_BUCKET_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


@dataclass(frozen=True)
class SeedSpec:
    region: str
    bucket: str
    cluster: str
    namespace: str
    postgres_secret_name: str
    postgres_secret: dict[str, str | int]
    log_groups: tuple[str, ...]


def _ensure_bucket(s3: Any, spec: SeedSpec) -> None:
    try:
        s3.create_bucket(
            Bucket=spec.bucket,
            CreateBucketConfiguration={"LocationConstraint": spec.region},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in _BUCKET_EXISTS:
            raise
    s3.put_bucket_versioning(Bucket=spec.bucket, VersioningConfiguration={"Status": "Enabled"})


def _ensure_secret(secrets: Any, spec: SeedSpec) -> str:
    value = json.dumps(spec.postgres_secret)
    try:
        return str(secrets.create_secret(Name=spec.postgres_secret_name, SecretString=value)["ARN"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
    secrets.put_secret_value(SecretId=spec.postgres_secret_name, SecretString=value)
    return str(secrets.describe_secret(SecretId=spec.postgres_secret_name)["ARN"])


def _ensure_namespace(cloudmap: Any, ec2: Any, spec: SeedSpec) -> None:
    existing = cloudmap.list_namespaces()["Namespaces"]
    if any(ns["Name"] == spec.namespace for ns in existing):
        return
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        vpcs = [ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]]
    cloudmap.create_private_dns_namespace(Name=spec.namespace, Vpc=vpcs[0]["VpcId"])


def _ensure_log_groups(logs: Any, spec: SeedSpec) -> None:
    for name in spec.log_groups:
        try:
            logs.create_log_group(logGroupName=name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise


def _client(endpoint_url: str, region: str, service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region
    )
    return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def seed(endpoint_url: str, spec: SeedSpec, *, bucket: bool = True) -> dict[str, str]:
    """Creates what is missing; returns the ARNs callers need (the Postgres secret).

    ``bucket=False`` leaves the bucket to :func:`seed_bucket`: nothing needs it before the first
    run, and S3's first request is the emulator's slowest, so it can wait off the critical path.
    """

    def client(service: str) -> Any:
        return _client(endpoint_url, spec.region, service)

    if bucket:
        seed_bucket(endpoint_url, spec)
    secret_arn = _ensure_secret(client("secretsmanager"), spec)
    client("ecs").create_cluster(clusterName=spec.cluster)
    _ensure_namespace(client("servicediscovery"), client("ec2"), spec)
    _ensure_log_groups(client("logs"), spec)
    return {"postgres_secret_arn": secret_arn}


def seed_bucket(endpoint_url: str, spec: SeedSpec) -> None:
    _ensure_bucket(_client(endpoint_url, spec.region, "s3"), spec)


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
