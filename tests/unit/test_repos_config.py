from typing import Any

import pytest

from repository_manager.repos.config import RepoConfig
from repository_manager.repos.errors import RepoError

FULL = """\
name: my-pipeline
git_url: https://github.com/user/repo.git
branch: main
python_file: my_pipeline/definitions.py
resources: {cpu: 512, memory: 2048, architecture: X86_64}
s3_prefix: repos/my-pipeline/data
environment: [{name: CUSTOM_VAR, value: custom_value}]
scaling: {min_capacity: 0, max_capacity: 3, cpu_threshold: 60, memory_threshold: 90}
read_from: [other-repo]
dags_dir: dags
commit: 0123456789abcdef0123456789abcdef01234567
image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/dagster-ecs/cl-my-pipeline@sha256:abc
"""


def base(**changes: Any) -> dict[str, Any]:
    return {"name": "my-pipeline", "git_url": "https://github.com/user/repo.git", **changes}


def only_problem(**changes: Any) -> str:
    problems = RepoConfig.problems(base(**changes))
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    return problems[0]


def test_defaults() -> None:
    config = RepoConfig.parse(base())
    assert config.branch == "main"
    assert (config.resources.cpu, config.resources.memory) == (256, 512)
    assert config.resources.architecture == "ARM64"
    assert config.s3_prefix == "repos/my-pipeline"
    s = config.scaling
    assert (s.min_capacity, s.max_capacity, s.cpu_threshold, s.memory_threshold) == (1, 2, 70, 80)
    assert config.python_file is None and config.module is None


def test_full_spec_round_trips_in_a_stable_order() -> None:
    config = RepoConfig.from_yaml(FULL)
    text = config.to_yaml()
    assert RepoConfig.from_yaml(text) == config
    assert text == RepoConfig.from_yaml(text).to_yaml()
    keys = [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert keys[:4] == ["name", "git_url", "branch", "python_file"]
    assert keys[-2:] == ["commit", "image"]


def test_invalid_name() -> None:
    assert only_problem(name="My_Pipeline").startswith("name: invalid repository name")


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 4096),
        (512, 512),
        (1024, 9216),
        (2048, 3072),
        (4096, 31744),
        (8192, 18432),
        (16384, 36864),
        (300, 512),
    ],
)
def test_invalid_fargate_sizes(cpu: int, memory: int) -> None:
    problem = only_problem(resources={"cpu": cpu, "memory": memory})
    assert problem.startswith("resources: ")
    assert "Fargate" in problem


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 2048),
        (512, 4096),
        (1024, 8192),
        (2048, 16384),
        (4096, 30720),
        (8192, 61440),
        (16384, 122880),
    ],
)
def test_valid_fargate_sizes(cpu: int, memory: int) -> None:
    assert RepoConfig.problems(base(resources={"cpu": cpu, "memory": memory})) == []


def test_architecture() -> None:
    assert "ARM64" in only_problem(resources={"architecture": "amd64"})


@pytest.mark.parametrize(
    "prefix", ["repos/other", "repos/my-pipeline-2", "repos/my-pipeline/../x", "data/my-pipeline"]
)
def test_s3_prefix_must_stay_under_the_repository(prefix: str) -> None:
    assert only_problem(s3_prefix=prefix).startswith("s3_prefix: ")


@pytest.mark.parametrize(
    "name",
    [
        "DAGSTER_HOME",
        "AWS_REGION",
        "ECS_AGENT",
        "DAGS_DIR",
        "PYTHONPATH",
        "GRPC_DNS_RESOLVER",
        "PATH",
        "HOME",
    ],
)
def test_environment_cannot_override_platform_variables(name: str) -> None:
    problem = only_problem(environment=[{"name": name, "value": "x"}])
    assert problem.startswith("environment[0].name: ") and "set by the platform" in problem


def test_environment_duplicates() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    assert "more than once" in only_problem(environment=env)


def test_scaling_min_above_max() -> None:
    assert "exceeds max_capacity" in only_problem(scaling={"min_capacity": 3, "max_capacity": 2})


def test_scaling_negative_min() -> None:
    assert only_problem(scaling={"min_capacity": -1}).startswith("scaling.min_capacity: ")


@pytest.mark.parametrize("field", ["cpu_threshold", "memory_threshold"])
@pytest.mark.parametrize("value", [0, 101])
def test_scaling_thresholds(field: str, value: int) -> None:
    assert only_problem(scaling={field: value}).startswith(f"scaling.{field}: ")


def test_read_from_itself() -> None:
    assert "cannot read from itself" in only_problem(read_from=["my-pipeline"])


def test_read_from_invalid_name() -> None:
    assert "invalid repository name 'Other'" in only_problem(read_from=["Other"])


def test_python_file_and_module_are_exclusive() -> None:
    problem = only_problem(python_file="a/definitions.py", module="a.definitions")
    assert "not both" in problem


@pytest.mark.parametrize("path", ["../x.py", "/abs/x.py", "a/../../x.py"])
def test_python_file_stays_in_the_repository(path: str) -> None:
    assert only_problem(python_file=path).startswith("python_file: ")


def test_module_must_be_dotted_name() -> None:
    assert only_problem(module="my-pipeline/defs").startswith("module: ")


def test_dags_dir_is_relative() -> None:
    assert only_problem(dags_dir="../dags").startswith("dags_dir: ")


def test_commit_is_a_full_sha() -> None:
    assert only_problem(commit="abc").startswith("commit: ")


def test_unknown_keys_are_reported() -> None:
    assert only_problem(resourses={}) == "resourses: unknown key (check its spelling)"


def test_git_url_credentials_are_never_echoed() -> None:
    problem = only_problem(git_url="https://alice:s3cr3t@github.com/user/repo.git")
    assert "s3cr3t" not in problem and "alice" not in problem
    assert "credential helper" in problem


def test_all_problems_are_collected_one_line_each() -> None:
    problems = RepoConfig.problems(
        base(name="Bad", resources={"cpu": 256, "memory": 4096}, scaling={"cpu_threshold": 0})
    )
    assert len(problems) == 3
    assert all("\n" not in p for p in problems)


def test_parse_raises_one_line_without_pydantic_dump() -> None:
    with pytest.raises(RepoError) as caught:
        RepoConfig.parse(base(name="Bad", git_url="https://tok3n@github.com/x.git"))
    message = str(caught.value)
    assert "\n" not in message and "tok3n" not in message
    assert "pydantic" not in message and "validation error" not in message
    assert message.count("; ") == 1


def test_invalid_yaml_is_one_line() -> None:
    with pytest.raises(RepoError, match=r"not valid YAML at line 2"):
        RepoConfig.from_yaml("name: x\n  bad: [\n")


def test_yaml_must_be_a_mapping() -> None:
    with pytest.raises(RepoError, match="must be a mapping"):
        RepoConfig.from_yaml("- a\n- b\n")
