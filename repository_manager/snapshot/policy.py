"""The least-privilege policy a snapshot needs: Describe, List and Get calls only, and of the
bucket only the registry, the DAG deployments and the sync agents' reports, never data.
``dagster-ecs snapshot --print-policy`` prints it for an environment's bucket."""

from __future__ import annotations

from typing import Any

READ_ACTIONS = [
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "servicediscovery:GetService",
    "servicediscovery:GetNamespace",
    "iam:GetRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
]
"""Every action but S3's; these Describe/List/Get calls take no resource narrower than ``*``
that would still cover every service and role of the environment."""


def read_only_policy(bucket: str) -> dict[str, Any]:
    objects = [
        f"arn:aws:s3:::{bucket}/repos/*/config.yml",
        f"arn:aws:s3:::{bucket}/repos/*/dags-status/*",
        f"arn:aws:s3:::{bucket}/dags/*",
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeTheEnvironment",
                "Effect": "Allow",
                "Action": READ_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "ListTheRegistryAndDags",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Sid": "ReadTheRegistryAndDags",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": objects,
            },
        ],
    }
