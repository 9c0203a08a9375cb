"""add / update / remove / list of repositories: the control plane's verbs, one code path for
every environment (only the :class:`RepoTarget` differs: its clients, platform and folders).

Everything is validated before anything is created; whatever a failed add created is rolled
back (:class:`~repository_manager.repos.resources.Undo`); the repository's lock keeps two
commands on one name from interleaving.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import requests
from pydantic import BaseModel

from repository_manager.dagster_api import DagsterApi
from repository_manager.deploy import CODE_LOCATION, Platform
from repository_manager.repos import git, resources
from repository_manager.repos.build import BuiltImage, build_image
from repository_manager.repos.config import RepoConfig
from repository_manager.repos.definitions import DefinitionsTarget, find_definitions
from repository_manager.repos.ecr import record_in_ecr
from repository_manager.repos.errors import Conflict, NotFound, RepoError
from repository_manager.repos.import_check import check_definitions
from repository_manager.repos.registry import Registry
from repository_manager.repos.resources import Progress, Undo

# The runtime's contract for a locally built image (ecs_local.images reads these annotations).
ROOT_ANNOTATION = "dev.dagster-ecs.local.root"
WORKDIR_ANNOTATION = "dev.dagster-ecs.local.working-directory"
ENV_ANNOTATION = "dev.dagster-ecs.local.env"
ENTRYPOINT_ANNOTATION = "dev.dagster-ecs.local.entrypoint"
LOADED_TIMEOUT_S = 180.0
RELOAD_EVERY_S = 2.0
IMPORT_TIMEOUT_S = 120.0


class AddRequest(BaseModel):
    name: str
    git_url: str
    branch: str = "main"
    python_file: str | None = None
    module: str | None = None
    dags_dir: str | None = None
    """The folder of the checkout that ``deploy-dags`` replaces (default: the definitions'
    package)."""
    read_from: list[str] = []
    """Registered repositories whose assets this one may read (read-only, by IAM)."""


@dataclass(frozen=True)
class RepoTarget:
    """Where repositories are added: the platform they join and how to reach its AWS."""

    env: str
    platform: Platform
    client: Callable[[str], Any]
    webserver_url: str | None
    work_dir: Path
    own_ports: bool
    """True where tasks share one host: each location gets its own gRPC port there."""
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    """The variables an import check runs with (bucket, region, endpoint)."""
    base_image: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The platform image's ``env`` and ``entryPoint``, which a repository's image inherits."""
    apply_registry: Callable[[Progress], None] | None = None
    """Where tofu owns the infrastructure (``local``, ``aws``): makes it match the registry
    (``tofu apply``), creating or deleting locations' roles, log groups, Cloud Map services,
    task definitions and services. ``None``: add-repo creates them through the AWS APIs."""

    @property
    def registry(self) -> Registry:
        return Registry(self.client("s3"), self.platform.bucket)

    def ecr_repository(self, name: str) -> str:
        return f"{self.platform.stack_name}-repos/{name}"

    def ui_link(self, name: str) -> str | None:
        return f"{self.webserver_url}/locations/{name}/assets" if self.webserver_url else None


def validate_new(target: RepoTarget, config: RepoConfig) -> RepoConfig:
    """Everything add-repo checks before it creates anything."""
    if target.registry.get(config.name) is not None:
        raise Conflict(
            f"repository {config.name!r} is already registered; update it with "
            f"`make update-repo REPO_NAME={config.name}` or remove it first"
        )
    unknown = [other for other in config.read_from if target.registry.get(other) is None]
    if unknown:
        raise NotFound(
            f"read_from names {', '.join(repr(u) for u in unknown)}, not registered here; "
            "add it first (`make list-repos` shows what is)"
        )
    ecs = target.client("ecs")
    described = ecs.describe_services(
        cluster=target.platform.cluster, services=[resources.service_name(config.name)]
    )["services"]
    if any(s.get("status") == "ACTIVE" for s in described):
        raise Conflict(
            f"an ECS service {resources.service_name(config.name)} already runs in cluster "
            f"{target.platform.cluster}; remove it first"
        )
    return config


def _free_port(target: RepoTarget) -> int:
    """The gRPC port of a new location: the platform's on Fargate (a task per ENI); where tasks
    share a host, the lowest one above it that no code location service uses and nothing holds."""
    base = target.platform.grpc_port
    if not target.own_ports:
        return base
    ecs = target.client("ecs")
    used = {base}
    arns = ecs.list_services(cluster=target.platform.cluster)["serviceArns"]
    for index in range(0, len(arns), 10):
        for service in ecs.describe_services(
            cluster=target.platform.cluster, services=arns[index : index + 10]
        )["services"]:
            definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            for container in definition["taskDefinition"]["containerDefinitions"]:
                used |= {m["containerPort"] for m in container.get("portMappings", [])}
    for port in range(base + 1, base + 500):
        if port not in used and _bindable(port):
            return port
    raise RepoError(f"no free gRPC port above {base} for a new code location")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _with_definitions(config: RepoConfig, found: DefinitionsTarget) -> RepoConfig:
    if found.kind == "python_file":
        value = found.value
        if found.working_directory not in ("", "."):
            value = f"{found.working_directory.rstrip('/')}/{found.value}"
        update: dict[str, Any] = {"python_file": value, "module": None}
    else:
        update = {"module": found.value, "python_file": None}
    if config.dags_dir is None:
        update["dags_dir"] = default_dags_dir(found)
    return config.model_copy(update=update)


def default_dags_dir(found: DefinitionsTarget) -> str | None:
    """The folder ``deploy-dags`` replaces: the package holding the definitions (``pkg`` for
    ``pkg.definitions`` or ``pkg/definitions.py``); none for a module at the checkout's root."""
    if found.kind == "module":
        parts = found.value.split(".")
        inner = parts[0] if len(parts) > 1 else None
    else:
        parent = str(PurePosixPath(found.value).parent)
        inner = parent if parent != "." else None
    if inner is None:
        return None
    prefix = found.working_directory.strip("/")
    return str(PurePosixPath(prefix) / inner) if prefix not in ("", ".") else inner


def _image_annotations(image: BuiltImage, base: dict[str, Any]) -> dict[str, str]:
    """What the local tree is, as the runtime reads it: the platform image's ENV and ENTRYPOINT
    with the repository's own variables on top (``FROM`` the platform image)."""
    return {
        ROOT_ANNOTATION: str(image.root),
        WORKDIR_ANNOTATION: str(image.working_directory),
        ENV_ANNOTATION: json.dumps({**base.get("env", {}), **image.env}, sort_keys=True),
        ENTRYPOINT_ANNOTATION: json.dumps(base.get("entryPoint", [])),
    }


def remembered(target: RepoTarget) -> list[RepoConfig]:
    """The repositories this stack had registered, kept in its state folder: the emulator's
    registry lives in memory, `make dev-with-repos` adds them again after a restart."""
    folder = target.work_dir / "registered"
    return [RepoConfig.from_yaml(path.read_text()) for path in sorted(folder.glob("*.yml"))]


def remember(target: RepoTarget, config: RepoConfig) -> None:
    folder = target.work_dir / "registered"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{config.name}.yml").write_text(config.to_yaml())


def forget(target: RepoTarget, name: str) -> None:
    (target.work_dir / "registered" / f"{name}.yml").unlink(missing_ok=True)


def add_remembered(target: RepoTarget, progress: Progress) -> list[str]:
    """Adds every remembered repository not registered now; returns one line per failure."""
    failures = []
    for config in remembered(target):
        if target.registry.get(config.name) is not None:
            continue
        request = AddRequest(
            name=config.name,
            git_url=config.git_url,
            branch=config.branch,
            python_file=config.python_file,
            module=config.module,
        )
        progress(f"adding {config.name} ({git.redact(config.git_url)})")
        try:
            add_repo(target, request, progress)
        except RepoError as error:
            failures.append(f"{config.name}: {error}")
    return failures


def build_and_check(
    target: RepoTarget, config: RepoConfig, undo: Undo, progress: Progress, pin: str | None = None
) -> RepoConfig:
    """Clone (the branch's head, or the ``pin`` commit), find the definitions, build the image,
    import-check it, record it in ECR."""
    checkout = target.work_dir / "checkouts" / config.name
    if checkout.exists():
        shutil.rmtree(checkout)
    checkout.parent.mkdir(parents=True, exist_ok=True)
    progress(f"cloning {git.redact(config.git_url)} ({config.branch})")
    undo.add(f"clone {checkout}", lambda: shutil.rmtree(checkout, ignore_errors=True))
    commit = git.clone(config.git_url, config.branch, checkout, commit=pin)
    progress(f"cloned at {commit[:12]}")
    found = find_definitions(checkout, config.python_file, config.module)
    config = _with_definitions(config, found)
    progress(f"definitions: {found.kind.replace('_', ' ')} {found.value}")
    began = time.monotonic()
    image = build_image(checkout, commit, target.work_dir / "images", log=lambda line: None)
    progress(f"image built ({time.monotonic() - began:.1f} s, {image.digest[:19]})")
    summary = check_definitions(
        image,
        found,
        {**target.environment, **image.env, "DAGSTER_REPO_NAME": config.name},
        timeout=IMPORT_TIMEOUT_S,
    )
    progress(f"definitions import: {len(summary.assets)} asset(s), {len(summary.jobs)} job(s)")
    ecr = target.client("ecr")
    repository = target.ecr_repository(config.name)
    existed = _ecr_exists(ecr, repository)
    uri = record_in_ecr(
        ecr,
        repository,
        commit[:12],
        image.digest,
        annotations=_image_annotations(image, target.base_image),
    )
    if not existed:
        undo.add(
            f"ECR repository {repository}", lambda: resources.delete_ecr_repository(ecr, repository)
        )
    progress(f"image recorded: {uri}")
    return config.model_copy(update={"commit": commit, "image": uri})


def _ecr_exists(ecr: Any, repository: str) -> bool:
    try:
        ecr.describe_repositories(repositoryNames=[repository])
    except ecr.exceptions.RepositoryNotFoundException:
        return False
    return True


def add_repo(target: RepoTarget, request: AddRequest, progress: Progress) -> RepoConfig:
    """Registers a repository as a code location; returns its registered config."""
    return add_config(target, RepoConfig.parse(request.model_dump(exclude_none=True)), progress)


def add_config(
    target: RepoTarget, config: RepoConfig, progress: Progress, *, pin: str | None = None
) -> RepoConfig:
    """Registers ``config`` as a code location, built from its branch's head or the ``pin``
    commit (a restore: the commit a snapshot recorded)."""
    config = validate_new(target, config)
    registry = target.registry
    with registry.lock(config.name, "add-repo"):
        undo = Undo()
        try:
            config = build_and_check(target, config, undo, progress, pin)
            config = register_location(target, config, undo, progress)
            wait_loaded(target, config.name, progress)
        except BaseException:
            failed = undo.run(progress)
            if failed:
                progress(f"could not roll back: {'; '.join(failed)}")
            raise
    return config


def register_location(
    target: RepoTarget, config: RepoConfig, undo: Undo, progress: Progress
) -> RepoConfig:
    """Everything AWS holds of a built location (its service, role, logs, Cloud Map entry,
    registry entry: by tofu where the environment is tofu's) and the local record of it."""
    name = config.name
    if target.apply_registry is None:
        create_location(target, config, undo, progress)
        target.registry.create(config)
        undo.add(f"registry entry repos/{name}/config.yml", lambda: target.registry.delete(name))
    else:
        config = register_for_tofu(target, config, undo, progress)
    remember(target, config)
    undo.add("the local record", lambda: forget(target, name))
    progress(f"registered repos/{name}/config.yml")
    return config


def register_for_tofu(
    target: RepoTarget, config: RepoConfig, undo: Undo, progress: Progress
) -> RepoConfig:
    """Registers the repository and has tofu create its location from the registry, so that
    add-repo and a later ``infra plan`` agree: the registry is what tofu reads."""
    assert target.apply_registry is not None
    apply = target.apply_registry
    if target.own_ports:
        config = config.model_copy(update={"grpc_port": _free_port(target)})
    registry = target.registry
    registry.create(config)
    name = config.name

    def unregister() -> None:
        registry.delete(name)
        apply(progress)

    undo.add(f"registry entry repos/{name}/config.yml and what tofu created from it", unregister)
    progress(f"registered repos/{name}/config.yml; tofu apply creates its location")
    apply(progress)
    progress(f"service {resources.service_name(name)} created by tofu")
    return config


def create_location(target: RepoTarget, config: RepoConfig, undo: Undo, progress: Progress) -> None:
    platform = target.platform
    role = resources.create_role(target.client("iam"), platform, config, undo)
    progress(f"task role {resources.role_name(platform, config.name)} (repos/{config.name}/ only)")
    resources.create_log_group(target.client("logs"), platform, config.name, undo)
    registry_arn = resources.create_cloud_map_service(
        target.client("servicediscovery"), platform, config.name, undo
    )
    assert config.image is not None
    location = resources.location_of(config, role, config.image, _free_port(target))
    platform = dataclasses.replace(platform, code_locations={config.name: location})
    ecs = target.client("ecs")
    task_definition = resources.register_task_definition(
        ecs, platform, config.name, undo, fresh=True
    )
    resources.create_service(ecs, platform, config, task_definition, registry_arn, undo)
    revision = task_definition.rsplit("/", 1)[-1]
    progress(f"service {resources.service_name(config.name)} created ({revision})")
    resources.create_scaling(target.client("application-autoscaling"), platform, config, undo)


def wait_loaded(
    target: RepoTarget,
    name: str,
    progress: Progress,
    timeout: float = LOADED_TIMEOUT_S,
    host: str | None = None,
) -> None:
    """Until the webserver serves the location LOADED (from ``host``, the new task's address,
    when given: after a rollout the old task's location is LOADED too). Reloads the location
    itself once it appears, rather than waiting for the workspace watcher's next retry."""
    if target.webserver_url is None:
        return
    api = DagsterApi(target.webserver_url, timeout=30)
    deadline = time.monotonic() + timeout
    status = "missing"
    reloaded = 0.0
    while time.monotonic() < deadline:
        try:
            status = api.location_statuses().get(name, "missing")
            moved = host is None or api.location_hosts().get(name) == host
            if status == "LOADED" and moved:
                progress(f"location {name} LOADED in the webserver")
                return
            # A location that failed to load (its server not serving yet) is reloaded, every
            # RELOAD_EVERY_S at most; one that is LOADING is left to finish.
            failed = status.startswith("ERROR") or (status == "LOADED" and not moved)
            if failed and time.monotonic() - reloaded >= RELOAD_EVERY_S:
                reloaded = time.monotonic()
                api.reload_location(name)
        except (requests.RequestException, RuntimeError):
            pass
        time.sleep(0.25)
    raise RepoError(
        f"location {name!r} not loaded after {timeout:.0f} s ({status}); "
        f"see `make repo-logs REPO_NAME={name}`"
    )


def task_address(ecs: Any, cluster: str, service: str, task_definition: str) -> str | None:
    """The private IPv4 of the service's task running ``task_definition``."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    for task in tasks:
        if task["taskDefinitionArn"] != task_definition:
            continue
        for attachment in task.get("attachments", []):
            for detail in attachment.get("details", []):
                if detail.get("name") == "privateIPv4Address":
                    return str(detail["value"])
    return None


def registered(target: RepoTarget, name: str) -> tuple[RepoConfig, str]:
    found = target.registry.get(name)
    if found is None:
        known = ", ".join(target.registry.names()) or "none"
        raise NotFound(f"no repository {name!r} is registered; registered: {known}")
    return found


def update_repo(
    target: RepoTarget, name: str, progress: Progress, *, force: bool = False
) -> RepoConfig | None:
    """Fetches the branch; where its commit moved (or with ``force``), rebuilds the image and
    rolls the service to a new revision, then re-registers. Returns None when nothing moved.

    The registry keeps the old commit until the new revision runs: a rollout that ECS's circuit
    breaker rolls back leaves the repository registered as it was.
    """
    config, etag = registered(target, name)
    head = git.remote_head(config.git_url, config.branch)
    if head == config.commit and not force:
        progress(f"{name} is at {head[:12]}, the head of {config.branch}: nothing to do")
        return None
    with target.registry.lock(name, "update-repo"):
        undo = Undo()
        try:
            updated = build_and_check(target, config, undo, progress)
        except BaseException:
            undo.run(progress)
            raise
        undo.steps.clear()
        if target.apply_registry is None:
            address = roll_location(target, updated, progress)
            target.registry.replace(updated, etag)
        else:
            address = _roll_through_tofu(target, config, updated, etag, progress)
        remember(target, updated)
        progress(f"registered {updated.name} at {(updated.commit or '')[:12]}")
        wait_loaded(target, name, progress, host=address)
    return updated


def roll_location(target: RepoTarget, config: RepoConfig, progress: Progress) -> str | None:
    """A new task definition revision with the new image, and a rolling update to it; returns
    the address of the task that runs it."""
    ecs = target.client("ecs")
    service = resources.service_name(config.name)
    described = ecs.describe_services(cluster=target.platform.cluster, services=[service])
    active = [s for s in described["services"] if s.get("status") == "ACTIVE"]
    if not active:
        raise RepoError(
            f"repository {config.name!r} is registered but has no service {service}; remove it "
            f"and add it again (`make remove-repo REPO_NAME={config.name}`)"
        )
    current = ecs.describe_task_definition(taskDefinition=active[0]["taskDefinition"])
    container = current["taskDefinition"]["containerDefinitions"][0]
    port = int(container["portMappings"][0]["containerPort"])
    role = str(current["taskDefinition"]["taskRoleArn"])
    resources.put_role_policy(target.client("iam"), target.platform, config)
    assert config.image is not None
    location = resources.location_of(config, role, config.image, port)
    platform = dataclasses.replace(target.platform, code_locations={config.name: location})
    revision = resources.register_task_definition(ecs, platform, config.name, Undo(), fresh=False)
    return _roll_service(target, service, revision, progress)


def _roll_service(
    target: RepoTarget, service: str, revision: str, progress: Progress, whose: str = ""
) -> str | None:
    """Rolls ``service`` to ``revision`` and waits until ECS runs it; returns the address of
    the task that runs it."""
    from repository_manager.deploy import DeployError, wait_stable

    ecs = target.client("ecs")
    cluster = target.platform.cluster
    ecs.update_service(cluster=cluster, service=service, taskDefinition=revision)
    progress(f"rolling {service} to {revision.rsplit('/', 1)[-1]}{whose}")
    try:
        wait_stable(ecs, cluster, [service], timeout=LOADED_TIMEOUT_S, deployed={service: revision})
    except DeployError as error:
        raise RepoError(str(error)) from None
    progress(f"{service} runs {revision.rsplit('/', 1)[-1]}")
    return task_address(ecs, cluster, service, revision)


def _roll_through_tofu(
    target: RepoTarget, old: RepoConfig, updated: RepoConfig, etag: str, progress: Progress
) -> str | None:
    """The registry names the new image first, since it is what tofu reads: tofu registers the
    new task definition revision, and the service is rolled to it, as ``make deploy`` does (tofu
    leaves a service's revision to deploys). A rollout that fails, or that the circuit breaker
    rolls back, puts the registry back, applies and rolls again, so the registry, tofu's state
    and what runs still agree."""
    assert target.apply_registry is not None
    current = target.registry.replace(updated, etag)
    progress(f"registered repos/{updated.name}/config.yml at {(updated.commit or '')[:12]}")
    try:
        target.apply_registry(progress)
        return _roll_to_tofu_revision(target, updated.name, progress)
    except RepoError as error:
        progress(f"rolling back to {(old.commit or '')[:12]}")
        target.registry.replace(old, current)
        target.apply_registry(progress)
        _roll_to_tofu_revision(target, old.name, progress)
        raise RepoError(f"{error}; {old.name} stays at {(old.commit or '')[:12]}") from None


def _roll_to_tofu_revision(target: RepoTarget, name: str, progress: Progress) -> str | None:
    family = resources.family(target.platform, name)
    described = target.client("ecs").describe_task_definition(taskDefinition=family)
    revision = str(described["taskDefinition"]["taskDefinitionArn"])
    return _roll_service(
        target, resources.service_name(name), revision, progress, whose=", tofu's revision"
    )


def sync_repos(target: RepoTarget, progress: Progress) -> list[str]:
    """Updates every registered repository whose branch moved; returns the updated ones."""
    updated = []
    for name in target.registry.names():
        if update_repo(target, name, progress) is not None:
            updated.append(name)
    return updated


def remove_repo(target: RepoTarget, name: str, *, purge: bool, progress: Progress) -> None:
    """Deletes every resource of the repository (in ECS's order) and its registry entry; with
    ``purge`` also everything under its S3 prefix, never another's."""
    registry = target.registry
    config, _ = registered(target, name)
    platform = target.platform
    with registry.lock(name, "remove-repo"):
        ecs = target.client("ecs")
        if target.apply_registry is not None:
            _remove_through_tofu(target, name, purge=purge, progress=progress)
            return
        resources.delete_scaling(target.client("application-autoscaling"), platform, name)
        resources.delete_service(ecs, platform, resources.service_name(name))
        progress(f"service {resources.service_name(name)} deleted")
        resources.delete_cloud_map_service(target.client("servicediscovery"), platform, name)
        from repository_manager.deploy import deregister_revisions

        deregister_revisions(ecs, [resources.family(platform, name), *run_families(ecs, name)])
        resources.delete_log_group(target.client("logs"), resources.log_group_name(platform, name))
        resources.delete_role(target.client("iam"), resources.role_name(platform, name))
        resources.delete_ecr_repository(target.client("ecr"), target.ecr_repository(name))
        progress("task definitions, log group, role and image deleted")
        if purge:
            count = purge_prefix(target.client("s3"), platform.bucket, f"repos/{name}/", keep=[])
            progress(f"purged {count} object version(s) under repos/{name}/")
        registry.delete(name)
        forget(target, name)
        shutil.rmtree(target.work_dir / "checkouts" / name, ignore_errors=True)
        progress(f"unregistered {config.name}")


def _remove_through_tofu(target: RepoTarget, name: str, *, purge: bool, progress: Progress) -> None:
    """Unregisters, then tofu deletes what it created; what add-repo made through the APIs
    (the image repository, the runs' task definitions) goes the same way as on the dev stack."""
    assert target.apply_registry is not None
    registry = target.registry
    registry.delete(name)
    target.apply_registry(progress)
    progress(f"service {resources.service_name(name)} and its resources deleted by tofu")
    from repository_manager.deploy import deregister_revisions

    ecs = target.client("ecs")
    deregister_revisions(ecs, run_families(ecs, name))
    resources.delete_ecr_repository(target.client("ecr"), target.ecr_repository(name))
    if purge:
        count = purge_prefix(target.client("s3"), target.platform.bucket, f"repos/{name}/", keep=[])
        progress(f"purged {count} object version(s) under repos/{name}/")
    forget(target, name)
    shutil.rmtree(target.work_dir / "checkouts" / name, ignore_errors=True)
    progress(f"unregistered {name}")


def run_families(ecs: Any, name: str) -> list[str]:
    """The task definition families EcsRunLauncher registered for the location's runs
    (``run_{location}_…``; a repository name has no ``_``, so no other location's match)."""
    pages = ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE")
    arns = [arn for page in pages for arn in page["taskDefinitionArns"]]
    families = {arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] for arn in arns}
    return sorted(f for f in families if f.startswith(f"run_{name}_"))


def purge_prefix(s3: Any, bucket: str, prefix: str, keep: list[str]) -> int:
    """Deletes every version under ``prefix`` (which must name one repository's folder)."""
    if not prefix.startswith("repos/") or prefix.count("/") != 2 or not prefix.endswith("/"):
        raise RepoError(f"refusing to purge {prefix!r}: not one repository's prefix")
    count = 0
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if entry["Key"] in keep:
                continue
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            count += 1
    return count


class RepoRow(BaseModel):
    name: str
    git_url: str
    branch: str
    commit: str
    status: str
    image: str
    s3_prefix: str
    ui: str


def list_repos(target: RepoTarget) -> list[RepoRow]:
    registry = target.registry
    ecs = target.client("ecs")
    statuses: dict[str, str] = {}
    if target.webserver_url:
        try:
            statuses = DagsterApi(target.webserver_url, timeout=5).location_statuses()
        except (requests.RequestException, RuntimeError, KeyError):
            statuses = {}
    rows = []
    for name in registry.names():
        found = registry.get(name)
        if found is None:
            continue
        config, _ = found
        described = ecs.describe_services(
            cluster=target.platform.cluster, services=[resources.service_name(name)]
        )["services"]
        active = [s for s in described if s.get("status") == "ACTIVE"]
        tasks = (
            f"{active[0]['runningCount']}/{active[0]['desiredCount']}" if active else "no service"
        )
        rows.append(
            RepoRow(
                name=name,
                git_url=git.redact(config.git_url),
                branch=config.branch,
                commit=(config.commit or "")[:12],
                status=f"{statuses.get(name, 'not in workspace')} ({tasks} tasks)",
                image=config.image or "",
                s3_prefix=f"s3://{target.platform.bucket}/{config.s3_prefix}/",
                ui=target.ui_link(name) or "",
            )
        )
    return rows


__all__ = ["CODE_LOCATION", "AddRequest", "RepoTarget", "add_repo", "list_repos", "remove_repo"]
