"""An ECR image is pulled with the task's execution role, as on ECS: a role allowed
``ecr:BatchGetImage`` on the repository starts the task; one that is not stops it with
CannotPullContainerError (403) rather than running any other image."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_local.images import ENV_ANNOTATION, ROOT_ANNOTATION
from repository_manager.repos.ecr import record_in_ecr
from repository_manager.settings import CLUSTER_NAME, STACK_TAG
from tests.integration.conftest import ECS_TASKS_TRUST, wait_for
from tests.integration.ecs_fixtures import make_network
from tests.integration.stack_fixtures import LocalStack, started_stack
from tests.integration.test_ecs_local_environment import METADATA_PROBE

pytestmark = pytest.mark.integration

REPOSITORY = "pull-probe/app"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with started_stack(tmp_path_factory.mktemp("pull") / "state") as running:
        yield running


def _execution_role(stack: LocalStack, name: str, repository: str) -> str:
    iam = stack.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST))[
        "Role"
    ]["Arn"]
    pull = {
        "Effect": "Allow",
        "Action": "ecr:BatchGetImage",
        "Resource": f"arn:aws:ecr:ap-southeast-2:*:repository/{repository}",
    }
    iam.put_role_policy(
        RoleName=name,
        PolicyName="pull",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [pull]}),
    )
    return arn


def _task(stack: LocalStack, image: str, execution_role: str, network: dict[str, Any]) -> Any:
    ecs = stack.client("ecs")
    family = execution_role.rsplit("/", 1)[-1]
    definition = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=execution_role,
        containerDefinitions=[
            {
                "name": "app",
                "image": image,
                "essential": True,
                "command": ["python", "-c", METADATA_PROBE],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(
        cluster=CLUSTER_NAME,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration=network,
    )["tasks"]
    return task["taskArn"]


def _status(stack: LocalStack, arn: str) -> dict[str, Any]:
    (task,) = stack.client("ecs").describe_tasks(cluster=CLUSTER_NAME, tasks=[arn])["tasks"]
    return dict(task)


def test_an_image_the_execution_role_may_not_pull_stops_the_task(stack: LocalStack) -> None:
    annotations = {
        ROOT_ANNOTATION: str(Path(sys.prefix)),
        ENV_ANNOTATION: json.dumps({STACK_TAG: str(stack.state_dir)}),
    }
    image = record_in_ecr(
        stack.client("ecr"), REPOSITORY, "v1", "sha256:" + "b" * 64, annotations=annotations
    )
    network = make_network(stack.client("ec2"))
    allowed = _task(stack, image, _execution_role(stack, "pull-allowed", REPOSITORY), network)
    denied = _task(stack, image, _execution_role(stack, "pull-denied", "other/*"), network)

    stopped = wait_for(
        lambda: (t := _status(stack, denied))["lastStatus"] == "STOPPED" and t,
        120,
        "the task whose role may not pull to stop",
    )
    reason = stopped["stoppedReason"]
    assert reason.startswith("CannotPullContainerError") and "403 Forbidden" in reason, reason
    assert REPOSITORY in reason
    running = wait_for(
        lambda: (t := _status(stack, allowed))["lastStatus"] == "RUNNING" and t,
        120,
        "the task whose role may pull to run",
    )
    # DescribeTasks names the digest of the image the container runs, as ECS does.
    digest = image.rsplit("@", 1)[1]
    assert running["containers"][0]["imageDigest"] == digest
    task_dir = stack.state_dir / "ecs" / "tasks" / allowed.rsplit("/", 1)[-1]
    metadata = wait_for(
        lambda: (
            (task_dir / "meta.json").exists() and json.loads((task_dir / "meta.json").read_text())
        ),
        30,
        "the container's task metadata",
    )
    assert metadata["Containers"][0]["ImageID"] == digest
    stack.client("ecs").stop_task(cluster=CLUSTER_NAME, task=allowed, reason="test done")
