"""A task definition's containers as process specs: image, command, environment, directory.

What Fargate does before it starts a container: resolve the image (pulling from ECR with the
execution role), create the awslogs stream, read the ``secrets`` and ``environmentFiles`` with
the execution role, and give the container its metadata and credentials endpoints.
"""

from __future__ import annotations

from typing import Any

from ecs_local import awslogs
from ecs_local.aws_clients import AwsClients
from ecs_local.environment import (
    MAX_ENVIRONMENT_FILES,
    argv_for,
    build_env,
    container_override,
    environment_file_location,
    parse_environment_file,
    resolve_secrets,
)
from ecs_local.images import ImageStore, pull_from_ecr
from ecs_local.runtime import ContainerSpec
from ecs_local.task_state import TaskState, ephemeral_storage


class ContainerSpecs:
    def __init__(
        self, images: ImageStore, aws: AwsClients, metadata_port: int, endpoint: str
    ) -> None:
        self.images = images
        self.aws = aws
        self.metadata_port = metadata_port
        self.endpoint = endpoint

    def build(
        self,
        task: TaskState,
        td: dict[str, Any],
        overrides: dict[str, Any],
        role: str | None,
    ) -> dict[str, ContainerSpec]:
        specs: dict[str, ContainerSpec] = {}
        region = task.snapshot["region"]
        for definition in td["containerDefinitions"]:
            image = self.images.resolve(
                definition["image"],
                pull=lambda ref: pull_from_ecr(self.aws.client("ecr", region, role), ref),
            )
            if image is None:
                raise LookupError(self.images.pull_error(definition["image"]))
            target = awslogs.target_for(definition, task.id, region)
            if target is not None:
                awslogs.prepare(self.aws.client("logs", target.region, role), target)
            secret_values = self.secret_values(task, definition, role)
            container = task.containers[definition["name"]]
            container.image_digest = image.digest
            endpoints = {
                "ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{self.metadata_port}/v4/{container.token}",
                "ECS_CONTAINER_METADATA_URI": f"http://127.0.0.1:{self.metadata_port}/v4/{container.token}",
            }
            if task.role_arn:
                endpoints["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = (
                    f"http://127.0.0.1:{self.metadata_port}/creds/{task.token}"
                )
            override = container_override(overrides, definition["name"])
            env = build_env(
                definition,
                override,
                image,
                secret_values,
                endpoints,
                region,
                self.endpoint,
                self.environment_file_values(task, definition, override, role),
            )
            # A Fargate task's ephemeral storage is its own: so is its temporary folder here.
            env["TMPDIR"] = str(ephemeral_storage(task.id))
            hostname = (task.snapshot.get("eni") or {}).get("privateDnsName")
            if hostname:
                env.setdefault("HOSTNAME", hostname)
            cwd = (
                definition.get("workingDirectory") or image.working_directory or str(task.directory)
            )
            specs[definition["name"]] = ContainerSpec(
                definition["name"], argv_for(definition, override, image), env, cwd, task.directory
            )
        return specs

    def environment_file_values(
        self,
        task: TaskState,
        definition: dict[str, Any],
        override: dict[str, Any],
        role: str | None,
    ) -> dict[str, str]:
        """The container's environmentFiles (its override's after its definition's), read from
        S3 with the execution role as Fargate does; later files win, as in Docker."""
        files = [*(definition.get("environmentFiles") or [])]
        files += override.get("environmentFiles") or []
        if len(files) > MAX_ENVIRONMENT_FILES:
            raise ValueError(f"{len(files)} environment files: ECS allows {MAX_ENVIRONMENT_FILES}")
        values: dict[str, str] = {}
        s3 = self.aws.client("s3", task.snapshot["region"], role) if files else None
        for entry in files:
            bucket, key = environment_file_location(str(entry.get("value", "")))
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[union-attr]
            except Exception as error:
                raise ValueError(
                    f"ResourceInitializationError: failed to download env files: {entry['value']}: "
                    f"{error}"
                ) from None
            values.update(parse_environment_file(body.decode("utf-8")))
        return values

    def secret_values(
        self, task: TaskState, definition: dict[str, Any], role: str | None
    ) -> dict[str, str]:
        region = task.snapshot["region"]
        return resolve_secrets(
            definition.get("secrets") or [], lambda service: self.aws.client(service, region, role)
        )
