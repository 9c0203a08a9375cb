"""Restore's IAM and secrets: the local roles get the snapshot's trust and policy documents (so
what production denies is denied here), and every secret a task definition names exists
locally, with a placeholder value where the local stack has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from repository_manager.snapshot.model import RoleShape, Snapshot, secret_arn
from repository_manager.snapshot.parity import grants
from repository_manager.snapshot.reader import policy_document
from repository_manager.snapshot.translate import Translator

PLACEHOLDER = "placeholder written by `dagster-ecs dev restore`: put the real value here"
_MAX_POLICY_VERSIONS = 5


def _same(left: dict[str, Any], right: dict[str, Any]) -> bool:
    return grants(left) == grants(right)


def restore_secrets(
    sm: Any,
    snapshot: Snapshot,
    local: Snapshot,
    translate: Translator,
    progress: Callable[[str], None],
) -> None:
    """Maps each named secret to the local one: the secret the local container already names
    under the same variable (its own database password, whatever production's is called), else
    the local secret of the same name, created (with a placeholder value) where it is missing.
    The ARNs join ``translate``, so the roles' grants name the local secrets."""
    named = {
        (service.name, container.name, variable): secret_arn(source)
        for service in local.services
        for container in service.task_definition.containers
        for variable, source in container.secrets.items()
        if ":secretsmanager:" in source
    }
    for service in snapshot.services:
        for container in service.task_definition.containers:
            for variable, source in container.secrets.items():
                if ":secretsmanager:" not in source:
                    continue
                arn = secret_arn(source)
                if arn in translate.extra:
                    continue
                own = named.get((service.name, container.name, variable))
                if own is not None:
                    translate.extra[arn] = own
                    continue
                name = arn.split(":secret:", 1)[1]
                name = name[:-7] if len(name) > 7 and name[-7] == "-" else name
                try:
                    found = sm.describe_secret(SecretId=name)["ARN"]
                except sm.exceptions.ResourceNotFoundException:
                    found = sm.create_secret(Name=name, SecretString=PLACEHOLDER)["ARN"]
                    progress(
                        f"secret {name}: created with a placeholder value; set it with "
                        f"`aws secretsmanager put-secret-value --secret-id {name}`"
                    )
                translate.extra[arn] = found


def restore_role(
    iam: Any, role: RoleShape, translate: Translator, account: str, progress: Callable[[str], None]
) -> list[str]:
    """Makes the local role hold exactly the snapshot role's documents; returns what changed."""
    name = translate.text(role.name)
    trust = translate.value(role.trust)
    changes = []
    try:
        local = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        changes.append("created")
    else:
        if not _same(policy_document(local["AssumeRolePolicyDocument"]), trust):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            changes.append("trust policy")
    wanted = {translate.text(p): translate.value(d) for p, d in role.inline.items()}
    for policy in _pages(iam, "list_role_policies", "PolicyNames", RoleName=name):
        if policy not in wanted:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
            changes.append(f"inline {policy} deleted")
    for policy, document in wanted.items():
        try:
            held = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        except iam.exceptions.NoSuchEntityException:
            held = None
        if held is None or not _same(policy_document(held), document):
            iam.put_role_policy(
                RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document)
            )
            changes.append(f"inline {policy} put")
    changes += _restore_attached(iam, name, role, translate, account)
    if changes:
        progress(f"role {name}: policies as in the snapshot ({', '.join(changes)})")
    return changes


def _restore_attached(
    iam: Any, name: str, role: RoleShape, translate: Translator, account: str
) -> list[str]:
    """Managed policies come back as customer-managed ones of the same name and document in
    the local account (the emulator has no AWS-managed catalogue to attach from)."""
    wanted = {translate.text(p): translate.value(d) for p, d in role.attached.items()}
    attached = {
        p["PolicyName"]: p["PolicyArn"]
        for p in _pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
    }
    changes = []
    for policy, arn in attached.items():
        if policy not in wanted:
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            changes.append(f"managed {policy} detached")
    for policy, document in wanted.items():
        arn = attached.get(policy) or f"arn:aws:iam::{account}:policy/{policy}"
        try:
            default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        except iam.exceptions.NoSuchEntityException:
            arn = iam.create_policy(PolicyName=policy, PolicyDocument=json.dumps(document))[
                "Policy"
            ]["Arn"]
        else:
            held = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
            if not _same(policy_document(held["Document"]), document):
                _new_version(iam, arn, document)
                changes.append(f"managed {policy} new version")
        if policy not in attached:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            changes.append(f"managed {policy} attached")
    return changes


def _new_version(iam: Any, arn: str, document: dict[str, Any]) -> None:
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= _MAX_POLICY_VERSIONS:
        oldest = min(
            (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
        )
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)


def _pages(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(method).paginate(**kwargs) for item in page[key]]
