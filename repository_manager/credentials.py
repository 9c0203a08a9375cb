"""The local stack's administrator credentials: what the control plane signs its calls with.

IAM is enforced in every local stack, as on AWS: the emulator creates an administrator user as
it boots and writes its access key to ``<state_dir>/credentials.json`` (readable by its owner
only). Without that file (a bare emulator that enforces nothing) the keys are placeholders.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from repository_manager.settings import REGION, StackSettings

ADMIN_USER = "dagster-ecs-admin"
CREDENTIALS_FILE = "credentials.json"


class Credentials(BaseModel):
    aws_access_key_id: str
    aws_secret_access_key: str

    def client_kwargs(self) -> dict[str, str]:
        return self.model_dump()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
        }


PLACEHOLDER = Credentials(aws_access_key_id="test", aws_secret_access_key="test")


def credentials_file(settings: StackSettings) -> Path:
    return settings.state_dir / CREDENTIALS_FILE


def for_stack(settings: StackSettings | None) -> Credentials:
    if settings is None:
        return PLACEHOLDER
    try:
        return Credentials.model_validate(json.loads(credentials_file(settings).read_text()))
    except (FileNotFoundError, ValueError):
        return PLACEHOLDER


def shell_exports(settings: StackSettings) -> str:
    """What `dagster-ecs dev env` prints: any AWS tool then works against the stack. Host
    prefix injection is off: a default Cloud Map client would call ``data-127.0.0.1``."""
    credentials = for_stack(settings)
    lines = {
        "AWS_ENDPOINT_URL": settings.emulator_url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **credentials.environment(),
    }
    return (
        "\n".join(f"export {key}={value}" for key, value in lines.items())
        + "\nunset AWS_PROFILE AWS_SESSION_TOKEN\n"
    )
