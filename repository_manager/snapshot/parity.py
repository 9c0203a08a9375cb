"""Field-by-field comparison of two snapshots, in the terms that are the same across
environments: each side's own names (account, region, cluster or stack name, bucket, endpoint)
become placeholders, and what is only an identity (revision numbers, deployment ids, task ids,
ARNs' random suffixes) is left out, so two environments built from the same code compare equal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from repository_manager.snapshot.model import Snapshot, secret_arn

ABSENT = "—"
VERBATIM = (" image", "_IMAGE")
"""Fields compared as they are: an image reference names an artefact, not an environment, even
where it contains the stack's name."""
_SECRET_SUFFIX = re.compile(r"(:secret:[^:]+)-[A-Za-z0-9]{6}(?=$|:)")
LOCAL_WIRING = frozenset(
    {
        "DAGSTER_POSTGRES_HOST",
        "DAGSTER_POSTGRES_PORT",
        "DAGSTER_POSTGRES_DB",
        "DAGSTER_POSTGRES_USER",
        "DAGSTER_WORKSPACE_FILE",
        "DAGSTER_WORKSPACE_REFRESH_SECONDS",
        "DAG_SYNC_INTERVAL",
    }
)
"""Variables that connect a task to its environment's own database, workspace and sync cadence:
a restore keeps the local values (never production's database), and parity compares only that
each is set."""
DATABASE_SECRET = "DAGSTER_POSTGRES_PASSWORD"
OWN = "{own}"
"""A value that is each environment's own: the database's address and secret, the workspace
file, the rolling-deployment percentages (locally 0/100: tasks share the host's ports). A
registry entry's gRPC port (which a shared host assigns) is not compared at all."""


@dataclass(frozen=True)
class Difference:
    field: str
    left: str
    right: str


def identifiers(snapshot: Snapshot) -> list[tuple[str, str]]:
    env = snapshot.environment
    pairs = [
        (env.endpoint or "", "{endpoint}"),
        (env.bucket, "{bucket}"),
        (env.cluster, "{stack}"),
        (env.account, "{account}"),
        (env.region, "{region}"),
    ]
    return sorted((p for p in pairs if p[0]), key=lambda p: len(p[0]), reverse=True)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fields(snapshot: Snapshot) -> dict[str, str]:
    """The snapshot as ``field → value``, with its environment's own names replaced."""
    raw: dict[str, Any] = {}
    own_ports: dict[str, list[int]] = {}
    for service in snapshot.services:
        base = f"service {service.name}"
        definition = service.task_definition
        own_ports[base] = sorted({p for c in definition.containers for p in c.ports})
        raw.update(
            {
                f"{base} desired count": service.desired_count,
                f"{base} launch type": service.launch_type,
                f"{base} minimum healthy percent": OWN,
                f"{base} maximum percent": OWN,
                f"{base} circuit breaker": [service.circuit_breaker, service.rollback],
                f"{base} cloud map": service.cloud_map,
                f"{base} scaling": service.scaling.model_dump() if service.scaling else None,
                f"{base} family": definition.family,
                f"{base} cpu": definition.cpu,
                f"{base} memory": definition.memory,
                f"{base} architecture": definition.cpu_architecture,
                f"{base} network mode": definition.network_mode,
                f"{base} task role": _role_name(definition.task_role),
                f"{base} execution role": _role_name(definition.execution_role),
            }
        )
        for container in definition.containers:
            at = f"{base} container {container.name}"
            raw.update(
                {
                    f"{at} image": container.image,
                    f"{at} command": container.command,
                    f"{at} entry point": container.entry_point,
                    f"{at} ports": container.ports,
                    f"{at} health check": container.health_check,
                    f"{at} essential": container.essential,
                    f"{at} log group": container.log_group,
                }
            )
            raw.update(
                {
                    f"{at} env {k}": OWN if k in LOCAL_WIRING else v
                    for k, v in container.environment.items()
                }
            )
            raw.update(
                {
                    f"{at} secret {k}": OWN
                    if k == DATABASE_SECRET
                    else _SECRET_SUFFIX.sub(r"\1", v)
                    for k, v in container.secrets.items()
                }
            )
    for role in snapshot.roles:
        raw[f"role {role.name} trust"] = role.trust
        for document in role.inline.values():
            raw.update({f"role {role.name} {grant}": "yes" for grant in grants(document)})
        for name, document in role.attached.items():
            raw.update({f"role {role.name} {name}: {grant}": "yes" for grant in grants(document)})
    for location in snapshot.locations:
        at = f"location {location.name}"
        raw.update(
            {
                f"{at} image": location.image,
                f"{at} git commit": location.git_commit,
                f"{at} dag release": location.dag_release or "image",
            }
        )
        raw.update(
            {
                f"{at} registry {k}": v
                for k, v in (location.registry or {}).items()
                if k != "grpc_port"
            }
        )
        libraries = location.dagster_versions or {}
        raw.update({f"{at} library {lib} version": v for lib, v in libraries.items()})
    if snapshot.instance is not None:
        instance = snapshot.instance
        raw["instance dagster version"] = instance.dagster_version
        raw["instance run launcher"] = instance.run_launcher
        raw["instance run coordinator"] = instance.run_coordinator
    substitutions = sorted(
        [*identifiers(snapshot), *_own_names(snapshot)], key=lambda p: len(p[0]), reverse=True
    )

    def normal(key: str, text: str) -> str:
        text = _SECRET_SUFFIX.sub(r"\1", text)
        for found, placeholder in substitutions:
            text = text.replace(found, placeholder)
        service = " ".join(key.split(" ")[:2])
        for port in own_ports.get(service, []):
            text = re.sub(rf"(?<!\d){port}(?!\d)", "{port}", text)
        return text

    return {
        normal("", key): _image(_text(value))
        if key.endswith(VERBATIM)
        else normal(key, _text(value))
        for key, value in raw.items()
        if value is not None
    }


def _image(reference: str) -> str:
    """An image by its digest where it has one: the same artefact, whichever registry
    repository (named after each environment's stack) holds it."""
    return reference.rsplit("@", 1)[1] if "@sha256:" in reference else reference


def _own_names(snapshot: Snapshot) -> list[tuple[str, str]]:
    """The environment's database secret (its ARN without the random suffix) and workspace
    file, as placeholders: what the roles' grants and the commands name of them."""
    found = []
    for service in snapshot.services:
        for container in service.task_definition.containers:
            source = container.secrets.get(DATABASE_SECRET)
            if source is not None:
                arn = _SECRET_SUFFIX.sub(r"\1", secret_arn(source))
                found.append((arn, "{database secret}"))
            workspace = container.environment.get("DAGSTER_WORKSPACE_FILE")
            if workspace:
                found.append((workspace, "{workspace file}"))
    return sorted(set(found))


def grants(document: dict[str, Any]) -> list[str]:
    """A policy as one line per effect, action and resource (and condition): what it allows or
    denies, whatever the statements' grouping, names or order."""
    found = []
    for statement in _listed(document.get("Statement")):
        effect = str(statement.get("Effect", "Allow")).lower()
        actions = _listed(statement.get("Action")) or [
            f"everything but {a}" for a in _listed(statement.get("NotAction"))
        ]
        resources = _listed(statement.get("Resource")) or [
            f"everything but {r}" for r in _listed(statement.get("NotResource"))
        ]
        condition = statement.get("Condition")
        when = f" when {_text(condition)}" if condition else ""
        found += [f"{effect} {a} on {r}{when}" for a in actions for r in resources]
    return sorted(set(found))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _role_name(arn: str | None) -> str | None:
    return arn.rsplit("/", 1)[-1] if arn else None


def compare(left: Snapshot, right: Snapshot) -> list[Difference]:
    """Every field whose value differs, or that only one side has, sorted by field. A location's
    library versions are compared only where both sides know them (a location that was loading
    when its snapshot was taken reports none)."""
    ours, theirs = fields(left), fields(right)
    unknown = tuple(
        f"location {loc.name} library "
        for side in (left, right)
        for loc in side.locations
        if loc.dagster_versions is None
    )
    return [
        Difference(key, ours.get(key, ABSENT), theirs.get(key, ABSENT))
        for key in sorted(ours.keys() | theirs.keys())
        if ours.get(key) != theirs.get(key) and not key.startswith(unknown)
    ]
