"""Pure parts of the command surface: tofu output filtering, one-line errors."""

from __future__ import annotations

from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

from repository_manager.cli_support import describe_error
from repository_manager.infra.progress import counts, visible


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


def test_escaped_aws_errors_become_one_line_saying_what_to_do() -> None:
    assert "start it with `make dev`" in describe_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
    )
    assert "set AWS_PROFILE" in describe_error(NoCredentialsError())
    assert "AWS_DEFAULT_REGION" in describe_error(NoRegionError())
    assert "\n" not in describe_error(RuntimeError("two\nlines"))
