"""Pure parts of the command surface: tofu output filtering, the watcher's retries, one-line
errors."""

from __future__ import annotations

import itertools

from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

from repository_manager.cli_support import describe_error
from repository_manager.infra.progress import counts, visible
from repository_manager.workspace import RETRY_MAX_S, Retries


def test_only_finished_resources_plans_and_counts_are_shown() -> None:
    assert visible("module.stack.aws_s3_bucket.this: Creation complete after 2s [id=b]\n") == (
        "  + module.stack.aws_s3_bucket.this (2s)"
    )
    assert visible("module.x.aws_iam_role.r: Still creating... [10s elapsed]\n") is None
    assert visible("  # module.x.aws_ecs_service.s will be updated in-place\n") == (
        "  # module.x.aws_ecs_service.s will be updated in-place"
    )
    assert visible("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n")
    assert (
        visible("│ Error: creating IAM Role: AccessDenied\n")
        == "Error: creating IAM Role: AccessDenied"
    )
    assert visible('  + name = "x"\n') is None
    output = "noise\nApply complete! Resources: 3 added, 1 changed, 0 destroyed.\n"
    assert counts(output) == "3 added, 1 changed, 0 destroyed"
    assert counts("x\nNo changes. Your infrastructure matches the configuration.\n") == "no changes"


def test_a_failing_location_is_retried_with_backoff_and_never_given_up() -> None:
    retries = Retries(interval=2.0)
    retries.failed(["sales"], now=0.0)
    attempts: list[float] = []

    def reload(name: str) -> bool:
        attempts.append(now)
        return False

    now = 0.0
    while now < 1000.0:
        retries.run(now, reload)
        now += 0.5
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[:4] == [4.0, 8.0, 16.0, 32.0]
    assert max(gaps) == RETRY_MAX_S
    assert attempts[-1] > 900, "gave up"
    assert retries.run(now + RETRY_MAX_S, lambda name: True) == ["sales"]
    assert retries.due == {}


def test_escaped_aws_errors_become_one_line_saying_what_to_do() -> None:
    assert "start it with `make dev`" in describe_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
    )
    assert "set AWS_PROFILE" in describe_error(NoCredentialsError())
    assert "AWS_DEFAULT_REGION" in describe_error(NoRegionError())
    assert "\n" not in describe_error(RuntimeError("two\nlines"))
