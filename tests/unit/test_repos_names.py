import pytest

from repository_manager.repos.errors import RepoError
from repository_manager.repos.names import MAX_NAME_LENGTH, validate_repo_name


@pytest.mark.parametrize("name", ["a", "my-pipeline", "etl2", "a-1-b", "x" * MAX_NAME_LENGTH])
def test_valid_names(name: str) -> None:
    assert validate_repo_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["My-Pipeline", "my pipeline", "..", "a/b", "-abc", "abc-", "a--b", "1abc", "a_b", "", "a.b"],
)
def test_invalid_names_say_what_a_valid_name_is(name: str) -> None:
    with pytest.raises(RepoError) as caught:
        validate_repo_name(name)
    message = str(caught.value)
    assert "\n" not in message
    assert "lowercase letters, digits and single dashes" in message


def test_too_long_names_are_refused_with_their_length() -> None:
    with pytest.raises(RepoError, match=r"is 33 characters long"):
        validate_repo_name("a" * 33)


def test_longest_name_fits_the_derived_aws_names() -> None:
    name = "a" * MAX_NAME_LENGTH
    assert len(f"dagster-ecs-tf-cl-{name}") <= 64  # IAM role name
    assert len(f"cl-{name}") <= 63  # Cloud Map service name (a DNS label)


@pytest.mark.parametrize("name", ["main", "shared", "system", "temp"])
def test_reserved_names(name: str) -> None:
    with pytest.raises(RepoError, match="is reserved"):
        validate_repo_name(name)
