"""IAM, Cloud Map and task-definition validation as AWS documents them, each test quoting the
page it follows; the same emulator gaps against plain moto are in
``tests/integration/test_emulator_shims.py`` and ``test_ecs_local_shims.py``."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import enforcing_emulator
from tests.integration.test_ecs_local_shims import OUT_OF_RANGE, _register_checked
from tests.integration.test_emulator_shims import (
    _cluster_scoped,
    _listed,
    _namespace_with_a_service,
    _repository_role,
    _services_of_one_namespace,
)

pytestmark = pytest.mark.integration


def test_list_bucket_is_confined_to_the_prefixes_its_condition_names() -> None:
    """IAM User Guide, Condition operators: "If the key that you specify in a policy condition
    is not present in the request context, the values do not match and the condition is
    false." A ListBucket allowed only with ``s3:prefix`` like ``repos/foo/*`` lists that folder
    and is denied any other prefix, and a listing without a prefix."""
    with enforcing_emulator() as url:
        role, _ = _repository_role(url)
        assert _listed(role, "repos/foo/") == ["repos/foo/assets/a"]
        for prefix in ("repos/bar/", "repos/", ""):
            with pytest.raises(ClientError, match="AccessDenied"):
                _listed(role, prefix)


def test_an_ecs_cluster_condition_confines_calls_to_that_cluster() -> None:
    """Service Authorization Reference, Amazon ECS: ``ecs:cluster`` "filters access by the ARN of
    an Amazon ECS cluster"; a call that names no cluster acts on ``default``."""
    with enforcing_emulator() as url:
        ecs = _cluster_scoped(url)
        assert ecs.list_tasks(cluster="a")["taskArns"] == []
        for cluster in ("b", None):
            with pytest.raises(ClientError, match="AccessDenied"):
                ecs.list_tasks(**({"cluster": cluster} if cluster else {}))


def test_deleting_a_namespace_needs_it_empty_and_takes_its_hosted_zone(emulator: str) -> None:
    """Cloud Map API Reference, DeleteNamespace: "If the namespace still contains one or more
    services, the request fails." The hosted zone Cloud Map made for it goes with it."""
    sd, route53, namespace, service = _namespace_with_a_service(emulator)
    zones = {z["Id"].rsplit("/", 1)[-1] for z in route53.list_hosted_zones()["HostedZones"]}
    dns = sd.get_namespace(Id=namespace)["Namespace"]["Properties"]["DnsProperties"]
    zone = dns["HostedZoneId"].rsplit("/", 1)[-1]
    assert zone in zones
    with pytest.raises(ClientError, match="ResourceInUse"):
        sd.delete_namespace(Id=namespace)
    sd.delete_service(Id=service)
    sd.delete_namespace(Id=namespace)
    left = {z["Id"].rsplit("/", 1)[-1] for z in route53.list_hosted_zones()["HostedZones"]}
    assert zone not in left


def test_list_services_filters_by_namespace(emulator: str) -> None:
    """Cloud Map API Reference, ServiceFilter: "NAMESPACE_ID: If you specify NAMESPACE_ID for
    Name, you can specify either EQ or IN for Condition." Only that namespace's services."""
    assert _services_of_one_namespace(emulator) == ["in-one"]


def test_health_check_values_outside_ecs_ranges_are_refused(emulator: str) -> None:
    """ECS API Reference, HealthCheck: interval "between 5 and 300 seconds", timeout 2-60 s,
    retries 1-10, startPeriod 0-300 s."""
    for field, value in OUT_OF_RANGE:
        with pytest.raises(ClientError, match=f"ClientException.*healthCheck.{field} {value}"):
            _register_checked(emulator, **{field: value})
    edges = {"interval": 5, "timeout": 60, "retries": 10, "startPeriod": 300}
    registered = _register_checked(emulator, **edges)["taskDefinition"]
    assert registered["containerDefinitions"][0]["healthCheck"]["interval"] == 5
