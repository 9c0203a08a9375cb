"""Each moto shim (dagster_ecs_emulator.ecs_shims): the corrected behaviour with the hook, and the
upstream behaviour it corrects on a plain moto (``--no-ecs-hook``), so a moto upgrade that fixes a
gap shows up here as a shim to remove."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import enforcing_emulator, iam_user, running_emulator
from tests.integration.ecs_fixtures import make_network


@pytest.fixture(scope="module")
def plain_emulator() -> Iterator[str]:
    with running_emulator("--no-ecs-hook") as url:
        yield url


def _setup(url: str, fargate_memory_only: bool = False) -> tuple[Any, str, dict[str, Any]]:
    session = boto3.session.Session("test", "test", region_name="ap-southeast-2")
    ecs = session.client("ecs", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=cluster)
    ec2 = session.client("ec2", endpoint_url=url)
    network = make_network(ec2)
    container: dict[str, Any] = {"name": "app", "image": "python:3.11", "command": ["true"]}
    if not fargate_memory_only:
        container["memory"] = 128
    ecs.register_task_definition(
        family="f",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )
    return ecs, cluster, network


def test_eni_dns_name_and_fargate_memory(emulator: str, plain_emulator: str) -> None:
    # Upstream RunTask: AttributeError in a VPC without DNS hostnames; TypeError (task memory only).
    for memory_only in (False, True):
        ecs, cluster, network = _setup(emulator, memory_only)
        task = ecs.run_task(
            cluster=cluster, taskDefinition="f", launchType="FARGATE", networkConfiguration=network
        )
        assert task["tasks"][0]["lastStatus"] == "PROVISIONING"
        ecs.stop_task(cluster=cluster, task=task["tasks"][0]["taskArn"])
        ecs, cluster, network = _setup(plain_emulator, memory_only)
        with pytest.raises(ClientError, match="500"):
            ecs.run_task(
                cluster=cluster,
                taskDefinition="f",
                launchType="FARGATE",
                networkConfiguration=network,
            )


def test_stop_task_and_list_tasks(emulator: str, plain_emulator: str) -> None:
    ecs, cluster, network = _setup(emulator)
    ecs.create_service(
        cluster=cluster,
        serviceName="s",
        taskDefinition="f",
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    arn = ecs.run_task(
        cluster=cluster, taskDefinition="f", launchType="FARGATE", networkConfiguration=network
    )["tasks"][0]["taskArn"]
    assert (
        ecs.list_tasks(cluster=cluster, serviceName="s")["taskArns"] == []
    )  # not a task of the service
    stopped = ecs.stop_task(cluster=cluster, task=arn, reason="r")["task"]
    assert (stopped["desiredStatus"], stopped["lastStatus"]) == (
        "STOPPED",
        "PROVISIONING",
    )  # the agent reports STOPPED
    assert ecs.list_tasks(cluster=cluster)["taskArns"] == []  # default desiredStatus RUNNING
    # Upstream: the service filter is ignored, StopTask claims STOPPED at once, ListTasks lists all.
    ecs, cluster, network = _setup(plain_emulator)
    ecs.create_service(
        cluster=cluster, serviceName="s", taskDefinition="f", desiredCount=0, launchType="EC2"
    )
    ecs_plain = ecs
    ecs_plain.register_task_definition(
        family="e", containerDefinitions=[{"name": "a", "image": "x", "memory": 64}]
    )
    # Plain moto cannot run the Fargate task (see above): show its behaviour on an EC2 task.
    ec2 = boto3.client(
        "ec2",
        endpoint_url=plain_emulator,
        region_name="ap-southeast-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    document = json.dumps({"instanceId": instance["InstanceId"]})
    ecs_plain.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
    arn = ecs_plain.run_task(cluster=cluster, taskDefinition="e")["tasks"][0]["taskArn"]
    assert ecs_plain.list_tasks(cluster=cluster, serviceName="s")["taskArns"] == [arn]
    assert ecs_plain.stop_task(cluster=cluster, task=arn)["task"]["lastStatus"] == "STOPPED"
    assert ecs_plain.list_tasks(cluster=cluster)["taskArns"] == [arn]


def test_deployment_configuration_and_new_deployments(emulator: str, plain_emulator: str) -> None:
    config = {"minimumHealthyPercent": 50, "maximumPercent": 150}
    results = {}
    for name, url in (("hooked", emulator), ("plain", plain_emulator)):
        ecs, cluster, network = _setup(url)
        ecs.create_service(
            cluster=cluster,
            serviceName="s",
            taskDefinition="f:1",
            desiredCount=0,
            launchType="FARGATE",
            networkConfiguration=network,
            deploymentConfiguration=config,
        )
        ecs.register_task_definition(
            family="f", containerDefinitions=[{"name": "a", "image": "x", "memory": 64}]
        )
        service = ecs.update_service(
            cluster=cluster, service="s", taskDefinition="f:2", desiredCount=3
        )["service"]
        results[name] = service
    hooked, plain = results["hooked"], results["plain"]
    assert hooked["deploymentConfiguration"] == config
    assert [d["status"] for d in hooked["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert hooked["deployments"][0]["taskDefinition"].endswith("/f:2")
    assert hooked["runningCount"] == 0  # nothing runs until the runtime reports it
    assert "deploymentConfiguration" not in plain
    assert len(plain["deployments"]) == 1 and plain["deployments"][0]["taskDefinition"].endswith(
        "/f:1"
    )
    assert plain["runningCount"] == 3


def test_describe_tasks_answers_the_fargate_fields_ecs_returns(emulator: str) -> None:
    """moto omits them (it fails RunTask in this VPC before, see above); ECS's Task shape has
    availabilityZone, platformVersion/platformFamily, ephemeralStorage, enableExecuteCommand
    and a version counter for every Fargate task."""
    ecs, cluster, network = _setup(emulator)
    ec2 = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "ec2", endpoint_url=emulator
    )
    subnet = network["awsvpcConfiguration"]["subnets"][0]
    zone = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]
    arn = ecs.run_task(
        cluster=cluster, taskDefinition="f", launchType="FARGATE", networkConfiguration=network
    )["tasks"][0]["taskArn"]
    (task,) = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    assert (task["availabilityZone"], task["platformVersion"], task["platformFamily"]) == (
        zone,
        "1.4.0",
        "Linux",
    )
    assert task["ephemeralStorage"] == {"sizeInGiB": 20}
    assert task["enableExecuteCommand"] is False and task["version"] == 1
    ecs.stop_task(cluster=cluster, task=arn)


def test_availability_zone_rebalancing_is_kept(emulator: str, plain_emulator: str) -> None:
    """ECS defaults a new service to ENABLED and answers what it was given; plain moto drops
    it at create, so terraform's availability_zone_rebalancing plans a change after apply."""
    answers = {}
    for name, url in (("hooked", emulator), ("plain", plain_emulator)):
        ecs, cluster, network = _setup(url)
        for service, value in (("given", "DISABLED"), ("default", None)):
            extra = {"availabilityZoneRebalancing": value} if value else {}
            ecs.create_service(
                cluster=cluster,
                serviceName=service,
                taskDefinition="f:1",
                desiredCount=0,
                launchType="FARGATE",
                networkConfiguration=network,
                **extra,
            )
        described = ecs.describe_services(cluster=cluster, services=["given", "default"])
        answers[name] = [s.get("availabilityZoneRebalancing") for s in described["services"]]
    assert answers["hooked"] == ["DISABLED", "ENABLED"]
    assert answers["plain"] == [None, None]


def test_a_tagged_create_needs_tag_resource_too() -> None:
    """ECS authorises ecs:TagResource as well when a creating action carries tags
    (supported-iam-actions-tagging); plain moto authorises only the action called."""
    tags = [{"key": "dagster/run_id", "value": "r1"}]
    spec = {
        "family": "tagged",
        "containerDefinitions": [{"name": "app", "image": "python:3.11", "memory": 128}],
    }
    denied = {}
    for name, args in (("hooked", ()), ("plain", ("--no-ecs-hook",))):
        with enforcing_emulator(*args) as url:
            admin = iam_user(url, None, "admin", ["*"])
            launcher = iam_user(url, admin, "launcher", ["ecs:RegisterTaskDefinition"])
            ecs = launcher.client("ecs", endpoint_url=url)
            ecs.register_task_definition(**spec)
            try:
                ecs.register_task_definition(**spec, tags=tags)
                denied[name] = ""
            except ClientError as error:
                denied[name] = str(error)
            if name == "hooked":
                tagger = iam_user(url, admin, "tagger", ["ecs:RunTask", "ecs:TagResource"])
                network = make_network(admin.client("ec2", endpoint_url=url))
                admin.client("ecs", endpoint_url=url).create_cluster(clusterName="c")
                run = tagger.client("ecs", endpoint_url=url).run_task(
                    cluster="c",
                    taskDefinition="tagged",
                    launchType="FARGATE",
                    networkConfiguration=network,
                    tags=tags,
                )
                assert run["tasks"][0]["tags"] == tags
    assert "AccessDenied" in denied["hooked"] and "ecs:TagResource" in denied["hooked"]
    assert denied["plain"] == ""


def _register_checked(url: str, **check: int) -> Any:
    ecs = boto3.session.Session("test", "test", region_name="ap-southeast-2").client(
        "ecs", endpoint_url=url, config=Config(retries={"max_attempts": 1})
    )
    container = {
        "name": "app",
        "image": "python:3.11",
        "memory": 128,
        "healthCheck": {"command": ["CMD-SHELL", "true"], **check},
    }
    return ecs.register_task_definition(family="checked", containerDefinitions=[container])


OUT_OF_RANGE = (("interval", 1), ("interval", 301), ("timeout", 1), ("retries", 11))


def test_plain_moto_registers_health_checks_outside_ecs_ranges(plain_emulator: str) -> None:
    for field, value in OUT_OF_RANGE:
        _register_checked(plain_emulator, **{field: value})
