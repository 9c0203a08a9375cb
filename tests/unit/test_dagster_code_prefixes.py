"""S3 prefix isolation of a code location: pure prefix functions and environment validation."""

import pytest

from dagster_code.resources import (
    PlatformConfigError,
    asset_prefix,
    bucket_from_env,
    compute_log_prefix,
    platform_resources,
    repo_name_from_env,
    repo_prefix,
    validate_repo_name,
)


def test_prefixes_of_a_repository() -> None:
    assert repo_prefix("main") == "repos/main/"
    assert asset_prefix("main") == "repos/main/assets/"
    assert compute_log_prefix("main") == "repos/main/logs/"
    assert asset_prefix("team-a_2") == "repos/team-a_2/assets/"


@pytest.mark.parametrize(
    "name",
    ["main", "a", "0day", "data-eng", "data_eng", "x" * 63],
)
def test_valid_names_are_accepted(name: str) -> None:
    assert validate_repo_name(name) == name
    assert repo_prefix(name).startswith("repos/") and repo_prefix(name).count("/") == 2


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../other",
        "a/b",
        "/abs",
        "a\\b",
        ".hidden",
        "-flag",
        "_under",
        "Main",
        "has space",
        " main",
        "main\n",
        "%2e%2e",
        "a%2fb",
        "x" * 64,
        "réseau",
        "\uff4d\uff41\uff49\uff4e",  # fullwidth "main"
        "main\x00",
        "a*",
    ],
)
def test_hostile_names_are_rejected_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match="a valid name is 1-63 characters of lowercase"):
        validate_repo_name(name)
    for prefix in (repo_prefix, asset_prefix, compute_log_prefix):
        with pytest.raises(ValueError):
            prefix(name)


def test_missing_bucket_fails_naming_the_variable() -> None:
    for env in ({}, {"DAGSTER_S3_BUCKET": ""}, {"DAGSTER_S3_BUCKET": "  "}):
        with pytest.raises(PlatformConfigError, match="DAGSTER_S3_BUCKET is not set") as caught:
            platform_resources(env)
        assert "\n" not in str(caught.value)


def test_repo_name_defaults_to_main_and_is_validated() -> None:
    assert repo_name_from_env({}) == "main"
    assert repo_name_from_env({"DAGSTER_REPO_NAME": "sales"}) == "sales"
    with pytest.raises(PlatformConfigError, match="DAGSTER_REPO_NAME: invalid repository name"):
        repo_name_from_env({"DAGSTER_REPO_NAME": "../main"})


def test_io_manager_writes_under_the_repository_asset_prefix() -> None:
    env = {"DAGSTER_S3_BUCKET": "dagster-ecs-local", "DAGSTER_REPO_NAME": "sales"}
    resources = platform_resources(env)
    assert set(resources) == {"io_manager", "s3"}
    io_manager = resources["io_manager"]
    assert io_manager.s3_bucket == "dagster-ecs-local"
    assert io_manager.s3_prefix == "repos/sales/assets"
    assert io_manager.s3_resource is resources["s3"]
    assert resources["s3"].endpoint_url is None
    assert bucket_from_env(env) == "dagster-ecs-local"
