"""dagster_ecs_emulator.shims: the corrected behaviour on the project's emulator, the upstream
behaviour on a plain moto (``--no-ecs-hook``), so a moto upgrade that fixes a gap shows up here."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import enforcing_emulator, iam_user, running_emulator
from tests.integration.test_ecs_local_shims import plain_emulator

__all__ = ["plain_emulator"]


def _autoscaling(url: str) -> Any:
    return boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "application-autoscaling", endpoint_url=url, config=Config(retries={"max_attempts": 1})
    )


def _register(client: Any, resource: str, **kwargs: Any) -> str:
    """A scalable target needs an ECS service to scale."""
    ecs = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "ecs", endpoint_url=client.meta.endpoint_url
    )
    ecs.create_cluster(clusterName="c")
    definition = ecs.register_task_definition(
        family=resource,
        containerDefinitions=[{"name": "app", "image": "python:3.11", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName=resource, taskDefinition=definition, desiredCount=0)
    return str(
        client.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/c/{resource}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=2,
            **kwargs,
        )["ScalableTargetARN"]
    )


def test_scalable_target_tags_round_trip(emulator: str) -> None:
    client = _autoscaling(emulator)
    arn = _register(client, "tagged", Tags={"team": "data"})
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "data"}
    client.tag_resource(ResourceARN=arn, Tags={"cost": "dagster"})
    client.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"cost": "dagster"}
    untagged = _register(client, "untagged")
    assert client.list_tags_for_resource(ResourceARN=untagged)["Tags"] == {}


def test_plain_moto_cannot_list_scalable_target_tags(plain_emulator: str) -> None:
    client = _autoscaling(plain_emulator)
    arn = _register(client, "tagged")
    with pytest.raises(ClientError) as error:
        client.list_tags_for_resource(ResourceARN=arn)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def _aws_managed_policies(url: str, region: str) -> int:
    iam = boto3.session.Session("test", "test", region_name=region).client("iam", endpoint_url=url)
    pages = iam.get_paginator("list_policies").paginate(Scope="AWS")
    return sum(len(page["Policies"]) for page in pages)


def test_managed_policies_only_in_the_aws_partition(emulator: str) -> None:
    assert _aws_managed_policies(emulator, "ap-southeast-2") > 1000
    assert _aws_managed_policies(emulator, "cn-north-1") == 0


def test_plain_moto_loads_managed_policies_in_every_partition(plain_emulator: str) -> None:
    assert _aws_managed_policies(plain_emulator, "cn-north-1") > 1000


def _discover_by_dns_config_namespace(url: str) -> Any:
    """A Cloud Map service created the way the AWS provider creates it, then discovered."""
    sd = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "servicediscovery", endpoint_url=url, config=Config(inject_host_prefix=False)
    )
    sd.create_private_dns_namespace(Name="shim.internal", Vpc="vpc-1")
    namespace = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "shim.internal")
    service = sd.create_service(
        Name="main",
        DnsConfig={
            "NamespaceId": namespace["Id"],
            "RoutingPolicy": "MULTIVALUE",
            "DnsRecords": [{"Type": "A", "TTL": 10}],
        },
    )["Service"]
    sd.register_instance(
        ServiceId=service["Id"],
        InstanceId="task-1",
        Attributes={"AWS_INSTANCE_IPV4": "10.0.0.7", "AWS_INSTANCE_PORT": "4000"},
    )
    return sd.discover_instances(NamespaceName="shim.internal", ServiceName="main")


def test_cloud_map_service_takes_its_namespace_from_dns_config(emulator: str) -> None:
    found = _discover_by_dns_config_namespace(emulator)["Instances"]
    assert [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found] == ["10.0.0.7"]


def test_plain_moto_loses_a_dns_config_namespace(plain_emulator: str) -> None:
    with pytest.raises(ClientError, match="ServiceNotFound"):
        _discover_by_dns_config_namespace(plain_emulator)


def _regions_and_zones(url: str) -> tuple[list[str], list[str]]:
    ec2 = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "ec2", endpoint_url=url
    )
    regions = ec2.describe_regions(AllRegions=True)["Regions"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return sorted(r["RegionName"] for r in regions), sorted(z["ZoneName"] for z in zones)


def test_one_region_table_answers_as_plain_moto(emulator: str, plain_emulator: str) -> None:
    regions, zones = _regions_and_zones(emulator)
    assert "ap-southeast-2" in regions
    assert zones == ["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"]
    assert (regions, zones) == _regions_and_zones(plain_emulator)


def _policy(action: str | list[str], resource: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _secret_reader(url: str) -> tuple[Any, Any, str, str]:
    """With IAM enforced: an administrator (the first calls are free) makes two secrets and a
    user allowed GetSecretValue on the first secret's ARN only."""
    admin = boto3.session.Session("test", "test", region_name="ap-southeast-2")
    iam = admin.client("iam", endpoint_url=url)
    iam.create_user(UserName="root")
    iam.put_user_policy(
        UserName="root",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    root_key = iam.create_access_key(UserName="root")["AccessKey"]
    root = boto3.session.Session(
        root_key["AccessKeyId"], root_key["SecretAccessKey"], region_name="ap-southeast-2"
    )
    secrets = root.client("secretsmanager", endpoint_url=url)
    granted = secrets.create_secret(Name="granted", SecretString="yes")["ARN"]
    other = secrets.create_secret(Name="other", SecretString="no")["ARN"]
    root_iam = root.client("iam", endpoint_url=url)
    root_iam.create_user(UserName="reader")
    root_iam.put_user_policy(
        UserName="reader",
        PolicyName="one-secret",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": granted,
                    }
                ],
            }
        ),
    )
    key = root_iam.create_access_key(UserName="reader")["AccessKey"]
    reader = boto3.session.Session(
        key["AccessKeyId"], key["SecretAccessKey"], region_name="ap-southeast-2"
    ).client("secretsmanager", endpoint_url=url)
    return reader, secrets, granted, other


def test_a_secret_s_own_arn_is_what_iam_evaluates() -> None:
    with running_emulator(env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}) as url:
        reader, _, granted, other = _secret_reader(url)
        assert reader.get_secret_value(SecretId=granted)["SecretString"] == "yes"
        assert reader.get_secret_value(SecretId="granted")["SecretString"] == "yes"
        with pytest.raises(ClientError, match="AccessDenied"):
            reader.get_secret_value(SecretId=other)


def test_plain_moto_denies_a_secret_granted_by_its_arn() -> None:
    with running_emulator("--no-ecs-hook", env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}) as url:
        reader, _, granted, _ = _secret_reader(url)
        with pytest.raises(ClientError, match="AccessDenied"):
            reader.get_secret_value(SecretId=granted)


def _log_writer(url: str) -> Any:
    """With IAM enforced: a writer allowed to create streams and put events in the log groups
    under ``/stack/`` only, as an execution role scoped to its stack's log groups is."""
    admin = iam_user(url, None, "admin", policy=_policy("*", "*"))
    logs = admin.client("logs", endpoint_url=url)
    for group in ("/stack/code-locations/a", "/other/code-locations/a"):
        logs.create_log_group(logGroupName=group)
    scoped = _policy(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        "arn:aws:logs:ap-southeast-2:*:log-group:/stack/*",
    )
    return iam_user(url, admin, "writer", policy=scoped).client("logs", endpoint_url=url)


def _write(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s/c/1")
    event = {"timestamp": 1, "message": "m"}
    logs.put_log_events(logGroupName=group, logStreamName="s/c/1", logEvents=[event])


def test_a_log_group_s_own_arn_is_what_iam_evaluates() -> None:
    with enforcing_emulator() as url:
        writer = _log_writer(url)
        _write(writer, "/stack/code-locations/a")
        with pytest.raises(ClientError, match="AccessDenied"):
            writer.create_log_stream(logGroupName="/other/code-locations/a", logStreamName="x")


def test_plain_moto_denies_a_log_group_granted_by_its_arn() -> None:
    with enforcing_emulator("--no-ecs-hook") as url:
        writer = _log_writer(url)
        with pytest.raises(ClientError, match="AccessDenied"):
            _write(writer, "/stack/code-locations/a")


def _image_puller(url: str) -> Any:
    """With IAM enforced: a puller allowed ecr:BatchGetImage on the repositories under
    ``stack-repos/`` only, as an execution role scoped to its stack's repositories is."""
    admin = iam_user(url, None, "admin", policy=_policy("*", "*"))
    ecr = admin.client("ecr", endpoint_url=url)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {},
            "layers": [],
        }
    )
    for repository in ("stack-repos/a", "other-repos/a"):
        ecr.create_repository(repositoryName=repository)
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag="v1")
    scoped = _policy("ecr:BatchGetImage", "arn:aws:ecr:ap-southeast-2:*:repository/stack-repos/*")
    return iam_user(url, admin, "puller", policy=scoped).client("ecr", endpoint_url=url)


def _pull(ecr: Any, repository: str) -> int:
    found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "v1"}])
    return len(found["images"])


def test_an_ecr_repository_s_own_arn_is_what_iam_evaluates() -> None:
    with enforcing_emulator() as url:
        puller = _image_puller(url)
        assert _pull(puller, "stack-repos/a") == 1
        with pytest.raises(ClientError, match="AccessDenied"):
            _pull(puller, "other-repos/a")


def test_plain_moto_denies_an_ecr_repository_granted_by_its_arn() -> None:
    with enforcing_emulator("--no-ecs-hook") as url:
        puller = _image_puller(url)
        with pytest.raises(ClientError, match="AccessDenied"):
            _pull(puller, "stack-repos/a")


def _repository_role(url: str) -> tuple[Any, Any]:
    """IAM enforced: an administrator, a bucket with two repositories' keys, and a user holding
    the policy add-repo gives repository ``foo``'s task role."""
    from repository_manager.iam import code_location_policy

    admin = iam_user(url, None, "admin", policy=_policy("*", "*"))
    s3 = admin.client("s3", endpoint_url=url)
    s3.create_bucket(
        Bucket="platform", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"}
    )
    for key in ("repos/foo/assets/a", "repos/bar/assets/b"):
        s3.put_object(Bucket="platform", Key=key, Body=b"x")
    policy = code_location_policy("platform", "foo")
    return iam_user(url, admin, "foo", policy=policy).client("s3", endpoint_url=url), s3


def _listed(s3: Any, prefix: str) -> list[str]:
    found = s3.list_objects_v2(Bucket="platform", Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in found]


def test_plain_moto_lists_any_prefix_despite_the_condition() -> None:
    with enforcing_emulator("--no-ecs-hook") as url:
        role, _ = _repository_role(url)
        assert _listed(role, "repos/bar/") == ["repos/bar/assets/b"]


def _cluster_scoped(url: str) -> Any:
    """A user allowed ecs:ListTasks only where ``ecs:cluster`` is cluster ``a``'s ARN, as the
    daemon's role is allowed to run and list tasks in its own cluster only."""
    admin = iam_user(url, None, "admin", policy=_policy("*", "*"))
    ecs = admin.client("ecs", endpoint_url=url)
    arn = ecs.create_cluster(clusterName="a")["cluster"]["clusterArn"]
    ecs.create_cluster(clusterName="b")
    statement = {
        "Effect": "Allow",
        "Action": "ecs:ListTasks",
        "Resource": "*",
        "Condition": {"ArnEquals": {"ecs:cluster": arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return iam_user(url, admin, "lister", policy=policy).client("ecs", endpoint_url=url)


def test_plain_moto_ignores_an_ecs_cluster_condition() -> None:
    with enforcing_emulator("--no-ecs-hook") as url:
        ecs = _cluster_scoped(url)
        assert ecs.list_tasks(cluster="b")["taskArns"] == []


def _namespace_with_a_service(url: str) -> tuple[Any, Any, str, str]:
    session = boto3.session.Session("test", "test", region_name="ap-southeast-2")
    sd = session.client("servicediscovery", endpoint_url=url)
    route53 = session.client("route53", endpoint_url=url)
    sd.create_private_dns_namespace(Name="gone.internal", Vpc="vpc-deleted-namespace")
    namespace = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "gone.internal")
    service = sd.create_service(Name="main", NamespaceId=namespace["Id"])["Service"]
    return sd, route53, namespace["Id"], service["Id"]


def test_plain_moto_deletes_a_namespace_in_use_and_keeps_its_zone(plain_emulator: str) -> None:
    sd, route53, namespace, _ = _namespace_with_a_service(plain_emulator)
    sd.delete_namespace(Id=namespace)
    assert "gone.internal-hz" in [z["Name"] for z in route53.list_hosted_zones()["HostedZones"]]


def _services_of_one_namespace(url: str) -> list[str]:
    sd = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "servicediscovery", endpoint_url=url
    )
    for name in ("one.ns", "two.ns"):
        sd.create_http_namespace(Name=name)
    namespaces = {n["Name"]: n["Id"] for n in sd.list_namespaces()["Namespaces"]}
    sd.create_service(Name="in-one", NamespaceId=namespaces["one.ns"])
    sd.create_service(Name="in-two", NamespaceId=namespaces["two.ns"])
    listed = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespaces["one.ns"]], "Condition": "EQ"}]
    )
    return sorted(s["Name"] for s in listed["Services"] if s["Name"].startswith("in-"))


def test_plain_moto_lists_every_namespace_s_services(plain_emulator: str) -> None:
    assert _services_of_one_namespace(plain_emulator) == ["in-one", "in-two"]
