"""Least-privilege IAM policies of the platform's task roles (mirrors ``infrastructure/``)."""

from __future__ import annotations

from typing import Any

ECS_TASKS_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def execution_policy(db_secret_arn: str) -> dict[str, Any]:
    """Pull images, write logs, read the database secret: what ECS needs to start a task."""
    return _policy(
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": db_secret_arn},
    )


def _discovery() -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": [
            "servicediscovery:DiscoverInstances",
            "servicediscovery:ListNamespaces",
            "servicediscovery:ListServices",
        ],
        "Resource": "*",
    }


def webserver_policy(bucket: str) -> dict[str, Any]:
    """Render the workspace, read compute logs."""
    return _policy(
        _discovery(),
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/repos/*/logs/*",
        },
    )


def daemon_policy(bucket: str, cluster_arn: str, passable_role_arns: list[str]) -> dict[str, Any]:
    """Launch each run as an ECS task (EcsRunLauncher) and watch it."""
    return _policy(
        _discovery(),
        {
            "Effect": "Allow",
            "Action": [
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "ecs:ListTaskDefinitions",
                "ec2:DescribeNetworkInterfaces",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
        },
        {
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": "*",
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": passable_role_arns},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{bucket}/repos/*/logs/*",
        },
    )


def code_location_policy(
    bucket: str, repo: str, read_from: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """Read, write and delete under ``repos/{repo}/``; read ``repos/shared/`` and the assets of
    the repositories named in ``read_from``; list only those prefixes. Nothing else: not even
    its own registry entry (``repos/{repo}/config.yml``), which only the control plane writes.
    Its DAG deployments (``dags/{repo}/``) it may read, at any version, never write."""
    readable = [f"repos/{name}/assets/" for name in read_from]
    listable = [
        f"repos/{repo}/*",
        "repos/shared/*",
        f"dags/{repo}/*",
        *(f"{prefix}*" for prefix in readable),
    ]
    read_only = [
        f"arn:aws:s3:::{bucket}/repos/shared/*",
        *(f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in readable),
    ]
    return _policy(
        {
            "Sid": "ListOwnPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": listable}},
        },
        {
            "Sid": "ReadWriteOwnPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{bucket}/repos/{repo}/*",
        },
        {
            "Sid": "ReadShared",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": read_only,
        },
        {
            "Sid": "ReadOwnDagDeployments",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"arn:aws:s3:::{bucket}/dags/{repo}/*",
        },
        {
            "Sid": "RegistryIsTheControlPlanes",
            "Effect": "Deny",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{bucket}/repos/{repo}/config.yml",
        },
    )
