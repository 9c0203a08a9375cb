"""Control plane of dagster-ecs: what should exist, reached through the AWS APIs only."""
