"""Gaps of the emulator outside ECS, filled in the moto process (ECS gaps: ``ecs_shims``), under
the version guard of ``moto_pin``.

Each shim names the upstream behaviour it replaces and has a test that shows plain moto still
behaves that way (tests/integration/test_emulator_shims.py), so an upgrade that fixes the gap
shows up there.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dagster_ecs_emulator.moto_pin import require_pinned_moto

_installed = False


def _autoscaling_tags() -> None:
    """moto 5.2.5's application-autoscaling has no TagResource / UntagResource /
    ListTagsForResource: it answers HTTP 500. The AWS provider reads tags after creating every
    scalable target, so without these ``tofu apply`` of a scaled ECS service fails."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    tags: dict[str, dict[str, str]] = {}
    lock = threading.Lock()
    register = ApplicationAutoScalingResponse.register_scalable_target

    def list_tags_for_resource(self: Any) -> str:
        with lock:
            return json.dumps({"Tags": dict(tags.get(self._get_param("ResourceARN"), {}))})

    def tag_resource(self: Any) -> str:
        with lock:
            tags.setdefault(self._get_param("ResourceARN"), {}).update(
                self._get_param("Tags") or {}
            )
        return "{}"

    def untag_resource(self: Any) -> str:
        with lock:
            resource = tags.get(self._get_param("ResourceARN"), {})
            for key in self._get_param("TagKeys") or []:
                resource.pop(key, None)
        return "{}"

    def register_scalable_target(self: Any) -> str:
        body: str = register(self)
        if self._get_param("Tags"):
            with lock:
                tags.setdefault(json.loads(body)["ScalableTargetARN"], {}).update(
                    self._get_param("Tags")
                )
        return body

    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target  # type: ignore[method-assign]


def _managed_policies_in_the_aws_partition_only() -> None:
    """With MOTO_IAM_LOAD_MANAGED_POLICIES, moto 5.2.5 parses ~1,600 AWS-managed policies for
    every IAM backend it builds, and its access-key lookup builds one per partition (aws, aws-cn,
    aws-us-gov, …): ~0.6 s of CPU on the emulator's first requests. The platform lives in
    ap-southeast-2 (partition ``aws``); the other partitions keep no managed policies."""
    from moto.iam.models import IAMBackend

    load = IAMBackend._init_aws_policies

    def init_aws_policies(self: Any) -> Any:
        return load(self) if self.region_name == "aws" else []

    IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]


def _cloud_map_namespace_from_dns_config() -> None:
    """moto 5.2.5's servicediscovery CreateService keeps only the top-level ``NamespaceId``. The
    AWS provider (``aws_service_discovery_service`` with ``dns_config { namespace_id }``) sends the
    namespace in ``DnsConfig.NamespaceId``, which AWS takes as the service's namespace; moto
    leaves it empty, so ``DiscoverInstances`` answers ServiceNotFound for every service tofu
    created and the workspace of a tofu-applied stack cannot be rendered."""
    from moto.servicediscovery.models import ServiceDiscoveryBackend

    create = ServiceDiscoveryBackend.create_service

    def create_service(
        self: Any, name: str, namespace_id: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        dns_config = kwargs.get("dns_config") or {}
        namespace: Any = namespace_id or dns_config.get("NamespaceId")
        return create(self, name, namespace, *args, **kwargs)

    ServiceDiscoveryBackend.create_service = create_service  # type: ignore[method-assign]


def _cloud_map_namespace_deletion() -> None:
    """moto 5.2.5's DeleteNamespace drops the namespace only: the Route 53 hosted zone it
    created for a DNS namespace outlives it (a stack destroyed by tofu leaves its zone behind),
    and a namespace that still holds services is deleted too. AWS refuses the latter
    (ResourceInUse: "If the namespace still contains one or more services, the request fails")
    and deletes the hosted zone Cloud Map created with the namespace."""
    from moto.core.exceptions import JsonRESTError
    from moto.route53 import route53_backends
    from moto.servicediscovery.models import ServiceDiscoveryBackend
    from moto.utilities.utils import get_partition

    delete = ServiceDiscoveryBackend.delete_namespace

    def delete_namespace(self: Any, namespace_id: str) -> str:
        namespace = self.namespaces.get(namespace_id)
        zone = None
        if namespace is not None:
            if any(s.namespace_id == namespace_id for s in self.services.values()):
                raise JsonRESTError(
                    "ResourceInUse", f"Namespace {namespace_id} still contains services"
                )
            zone = (namespace.dns_properties or {}).get("HostedZoneId")
        operation = str(delete(self, namespace_id))
        if zone:
            route53 = route53_backends[self.account_id][get_partition(self.region_name)]
            route53.zones.pop(str(zone).replace("/hostedzone/", ""), None)
        return operation

    ServiceDiscoveryBackend.delete_namespace = delete_namespace  # type: ignore[method-assign]


def _cloud_map_service_filters() -> None:
    """moto 5.2.5's ListServices ignores ``Filters`` and lists every namespace's services, so a
    workspace rendered from one namespace (NAMESPACE_ID EQ) names another namespace's services,
    and DiscoverInstances for them fails. AWS filters by NAMESPACE_ID (EQ or IN)."""
    from moto.servicediscovery.responses import ServiceDiscoveryResponse

    def list_services(self: Any) -> str:
        params = json.loads(self.body or "{}")
        services = list(self.servicediscovery_backend.list_services())
        for wanted in params.get("Filters") or []:
            if wanted.get("Name") == "NAMESPACE_ID":
                values = set(wanted.get("Values") or [])
                services = [s for s in services if s.namespace_id in values]
        return json.dumps({"Services": [s.to_json() for s in services]})

    ServiceDiscoveryResponse.list_services = list_services  # type: ignore[method-assign]


def _one_region_table() -> None:
    """moto 5.2.5's EC2 models list the regions of three partitions at import, each time from a
    new boto3 ``Session`` that parses botocore's endpoint tables again: ~0.3 s of the emulator's
    boot. The tables are the installed botocore's data, the same for every session, so the
    process reads them once. Must run before ``moto.ec2`` is imported."""
    from boto3.session import Session

    lookup = Session.get_available_regions
    shared = functools.cache(Session)

    @functools.cache
    def regions(service: str, partition: str, allow_non_regional: bool) -> tuple[str, ...]:
        return tuple(lookup(shared(), service, partition, allow_non_regional))

    def get_available_regions(
        self: Session,
        service_name: str,
        partition_name: str = "aws",
        allow_non_regional: bool = False,
    ) -> list[str]:
        return list(regions(service_name, partition_name, allow_non_regional))

    Session.get_available_regions = get_available_regions  # type: ignore[method-assign]


def _secret_resources() -> None:
    """moto evaluates IAM policies against resource ``*`` for every service but S3 (and SQS,
    IAM, STS): a policy allowing ``secretsmanager:GetSecretValue`` on one secret's ARN, as every
    ECS execution role has, is denied. AWS authorises against the secret's ARN."""
    from moto.secretsmanager.responses import SecretsManagerResponse

    def _determine_resource(self: Any) -> str:
        secret_id = self._get_param("SecretId")
        if not secret_id:
            return "*"
        try:
            return str(self.backend.describe_secret(secret_id=secret_id).arn)
        except Exception:
            return "*"

    SecretsManagerResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]


_LOG_STREAM_ACTIONS = frozenset({"PutLogEvents", "GetLogEvents", "DeleteLogStream"})
"""CloudWatch Logs actions authorised against the log stream's ARN; the others that name a log
group, against the group's (the Service Authorization Reference's resource types)."""


def _log_resources() -> None:
    """moto evaluates CloudWatch Logs calls against resource ``*``: an execution role allowed
    ``logs:CreateLogStream`` on its stack's log groups only (``log-group:/stack/*``), as
    least privilege writes it, is denied. AWS authorises against the group's or stream's ARN."""
    from moto.logs.responses import LogsResponse

    def _determine_resource(self: Any) -> str:
        group = self._get_param("logGroupName")
        if not group:
            return "*"
        arn = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{group}"
        stream = self._get_param("logStreamName")
        if stream and self._get_action() in _LOG_STREAM_ACTIONS:
            return f"{arn}:log-stream:{stream}"
        return arn

    LogsResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]


def _ecr_resources() -> None:
    """moto evaluates ECR calls against resource ``*``: an execution role allowed to pull from
    its own repositories only (``repository/stack-repos/*``) is denied the pull. AWS
    authorises calls that name a repository against its ARN."""
    from moto.ecr.responses import ECRResponse

    def _determine_resource(self: Any) -> str:
        repository = self._get_param("repositoryName")
        if not repository:
            return "*"
        account = self._get_param("registryId") or self.current_account
        return f"arn:aws:ecr:{self.region}:{account}:repository/{repository}"

    ECRResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]


_S3_LIST_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})
"""The S3 actions whose request context holds ``s3:prefix``, ``s3:delimiter``, ``s3:max-keys``
(the Service Authorization Reference's condition keys for Amazon S3)."""

_unevaluated_warned: set[str] = set()


def _principal_arn(arn: str) -> str:
    """``aws:PrincipalArn`` of an assumed role is the role's ARN, not the session's."""
    match = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.+", arn)
    if match is None:
        return arn
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


def _ecs_context(request: Any) -> dict[str, list[str]]:
    """``ecs:cluster`` (the cluster's ARN, ``default`` when the call names none) for operations
    that take a cluster; ``ecs:CreateAction`` when a creating call is authorised for its tags."""
    from botocore.session import get_session

    target = request._headers.get("X-Amz-Target", "")
    operation = target.rsplit(".", 1)[-1]
    context: dict[str, list[str]] = {}
    try:
        model = get_session().get_service_model("ecs").operation_model(operation)
    except Exception:
        return context
    if request._action == "ecs:TagResource" and operation != "TagResource":
        context["ecs:createaction"] = [operation]
    if model.input_shape is not None and "cluster" in model.input_shape.members:
        try:
            cluster = json.loads(request._body or b"{}").get("cluster") or "default"
        except ValueError:
            cluster = "default"
        if not str(cluster).startswith("arn:"):
            cluster = f"arn:aws:ecs:{request._region}:{request.account_id}:cluster/{cluster}"
        context["ecs:cluster"] = [str(cluster)]
    return context


def _request_context(request: Any) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {
        "aws:requestedregion": [request._region],
        "aws:principalarn": [_principal_arn(request._access_key.arn)],
        "aws:principalaccount": [request.account_id],
    }
    if request._action in _S3_LIST_ACTIONS:
        query = parse_qs(urlsplit(request._path).query, keep_blank_values=True)
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                context[f"s3:{name}"] = query[name]
    if request._action.startswith("ecs:"):
        context.update(_ecs_context(request))
    return context


def _warn_unevaluated(condition: str) -> None:
    if condition not in _unevaluated_warned:
        _unevaluated_warned.add(condition)
        logging.getLogger("dagster_ecs_emulator.iam").warning(
            "IAM condition %s is not evaluated by the emulator (AWS evaluates it): "
            "the statement applies as if it held",
            condition,
        )


def _identity_policy_conditions() -> None:
    """moto decides a request on each statement's Action and Resource and never fills a request
    context, so a condition never narrows an Allow: a repository's role, allowed ListBucket only
    with ``s3:prefix`` under its own folder, lists every repository's keys. The request is
    decided by :func:`dagster_ecs_emulator.iam_policy.decide` instead, with the condition keys the
    emulator can fill from the request; the role-trust check of AssumeRole stays moto's."""
    from moto.iam.access_control import IAMPolicy, IAMRequestBase

    from dagster_ecs_emulator.iam_policy import Decision, decide

    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action == "sts:GetCallerIdentity":
            return
        documents = [IAMPolicy(p)._policy_json for p in self._access_key.collect_policies()]
        decision = decide(
            documents, self._action, resource, _request_context(self), _warn_unevaluated
        )
        permitted = decision is Decision.ALLOW
        if permitted and self._is_assuming_role_operation(resource):
            permitted = self._check_role_trust_relationship(resource)
        if not permitted:
            self._raise_access_denied()

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def install() -> None:
    """Before moto's models are imported (the region table is read at import)."""
    global _installed
    if _installed:
        return
    require_pinned_moto()
    _one_region_table()
    _autoscaling_tags()
    _managed_policies_in_the_aws_partition_only()
    _cloud_map_namespace_from_dns_config()
    _cloud_map_namespace_deletion()
    _cloud_map_service_filters()
    _secret_resources()
    _log_resources()
    _ecr_resources()
    _identity_policy_conditions()
    _installed = True
