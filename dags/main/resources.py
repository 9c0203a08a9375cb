"""DAG-level resource configuration of the platform's sample pipelines.

Storage (``io_manager``, ``s3``) is not configured here: the platform provides it.
"""

import os

from dagster import ConfigurableResource, EnvVar


class SampleOrders(ConfigurableResource):
    """Shape of the generated sample orders."""

    count: int = 40
    seed: int = 7


class OrderInbox(ConfigurableResource):
    """Where new order files land: an ``inbox/`` folder inside the repository's own prefix."""

    bucket: str
    repo_name: str = "main"

    @property
    def prefix(self) -> str:
        return f"repos/{self.repo_name}/inbox/"


resources = {
    "sample_orders": SampleOrders(),
    "order_inbox": OrderInbox(
        bucket=EnvVar("DAGSTER_S3_BUCKET"),
        repo_name=os.environ.get("DAGSTER_REPO_NAME", "main"),
    ),
}
