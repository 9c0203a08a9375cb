"""The messages between the ECS runtime and the emulator's ECS hook (``ecs_hook``).

The runtime reads the desired state (``snapshot``: services, live tasks and task definitions in
the ECS API's own shapes) and writes back what really runs: these typed reports, validated on
both sides, so a field either side does not know is an error rather than a silently dropped
key. The wire format is the ECS API's camelCase.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel, to_pascal


class Message(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ContainerReport(Message):
    name: str
    last_status: str
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"
    runtime_id: str | None = None
    image_digest: str | None = None
    """DescribeTasks' containers[].imageDigest: the digest of the image pulled from ECR."""


class TaskReport(Message):
    """A task's observed state; the times are ISO 8601, each sent once it happened."""

    account: str
    region: str
    task_arn: str
    last_status: str
    health_status: str
    containers: list[ContainerReport]
    pull_started_at: str | None = None
    pull_stopped_at: str | None = None
    started_at: str | None = None
    stopping_at: str | None = None
    stopped_at: str | None = None
    execution_stopped_at: str | None = None
    desired_status: str | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None


class DeploymentReport(Message):
    """One deployment as the service scheduler left it. ``rollback``: with rolloutState FAILED,
    the circuit breaker asks the hook to roll the service back to its last COMPLETED
    deployment. ``drained``: an old deployment whose tasks are all gone, to be dropped."""

    id: str
    running_count: int
    pending_count: int
    rollout_state: str | None = None
    failed_tasks: int | None = None
    rollback: bool = False
    drained: bool = False


class ServiceReport(Message):
    account: str
    region: str
    cluster: str
    service: str
    running_count: int
    pending_count: int
    deployments: list[DeploymentReport]
    events: list[str] = []


class Report(Message):
    tasks: list[TaskReport] = []
    services: list[ServiceReport] = []


class ServiceTaskRequest(Message):
    """The service scheduler creates one task of ``service``'s deployment ``started_by``."""

    account: str
    region: str
    cluster: str
    service: str
    task_definition: str
    started_by: str


class AssumeRoleRequest(Message):
    role_arn: str
    session_name: str
    region: str
    duration_seconds: int = 3600


class RoleCredentials(BaseModel):
    """What the ECS credentials endpoint serves a task (the AWS SDKs' container provider)."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid")

    access_key_id: str
    secret_access_key: str
    token: str
    expiration: str
    role_arn: str
