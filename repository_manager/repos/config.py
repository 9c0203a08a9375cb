"""``repos/{name}/config.yml``: what a repository is and how its code location runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from repository_manager.repos.errors import RepoError, one_line
from repository_manager.repos.fargate import fargate_size_problem
from repository_manager.repos.git import check_url
from repository_manager.repos.names import validate_repo_name

PLATFORM_ENV_PREFIXES = ("DAGSTER_", "AWS_", "ECS_", "DAGS_", "DAG_SYNC_")
PLATFORM_ENV_NAMES = frozenset({"PYTHONPATH", "GRPC_DNS_RESOLVER", "PATH", "HOME", "TMPDIR"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    cpu: int = 256
    memory: int = 512
    architecture: Literal["ARM64", "X86_64"] = "ARM64"

    @model_validator(mode="after")
    def _fargate_size(self) -> Resources:
        problem = fargate_size_problem(self.cpu, self.memory)
        if problem:
            raise ValueError(problem)
        return self


class EnvVar(_Strict):
    name: str
    value: str

    @field_validator("name")
    @classmethod
    def _not_platform(cls, name: str) -> str:
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid variable name (letters, digits, '_')")
        if name.startswith(PLATFORM_ENV_PREFIXES) or name in PLATFORM_ENV_NAMES:
            raise ValueError(
                f"{name} is set by the platform and cannot be overridden: rename the variable "
                f"(reserved: {', '.join(p + '*' for p in PLATFORM_ENV_PREFIXES)}, "
                f"{', '.join(sorted(PLATFORM_ENV_NAMES))})"
            )
        return name


class Scaling(_Strict):
    min_capacity: int = Field(default=1, ge=0)
    max_capacity: int = Field(default=2, ge=1)
    cpu_threshold: int = Field(default=70, ge=1, le=100)
    memory_threshold: int = Field(default=80, ge=1, le=100)

    @model_validator(mode="after")
    def _min_le_max(self) -> Scaling:
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"min_capacity {self.min_capacity} exceeds max_capacity {self.max_capacity}"
            )
        return self


class RepoConfig(_Strict):
    name: str
    git_url: str
    branch: str = "main"
    python_file: str | None = None
    module: str | None = None
    resources: Resources = Field(default_factory=Resources)
    s3_prefix: str = Field(default="", validate_default=True)
    environment: list[EnvVar] = Field(default_factory=list)
    scaling: Scaling = Field(default_factory=Scaling)
    read_from: list[str] = Field(default_factory=list)
    dags_dir: str | None = None
    commit: str | None = None
    image: str | None = None
    grpc_port: int | None = Field(default=None, ge=1024, le=65535)
    """The code server's port where tasks share one host (a tofu environment on the emulator);
    unset: the platform's (every Fargate task has its own ENI)."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return _as_value_error(validate_repo_name, name)

    @field_validator("git_url")
    @classmethod
    def _git_url(cls, url: str) -> str:
        return _as_value_error(check_url, url)

    @field_validator("branch")
    @classmethod
    def _branch(cls, branch: str) -> str:
        if not branch or branch.startswith("-") or ".." in branch or re.search(r"\s", branch):
            raise ValueError(f"invalid branch name {branch!r}: use a plain git branch, e.g. main")
        return branch

    @field_validator("python_file", "dags_dir")
    @classmethod
    def _relative_path(cls, path: str | None, info: ValidationInfo) -> str | None:
        if path is None:
            return None
        pure = PurePosixPath(path)
        if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
            raise ValueError(
                f"{path!r} must be a path relative to the repository root, without '..'"
            )
        if info.field_name == "python_file" and pure.suffix != ".py":
            raise ValueError(f"{path!r} is not a .py file")
        return str(pure)

    @field_validator("module")
    @classmethod
    def _module(cls, module: str | None, info: ValidationInfo) -> str | None:
        if module is None:
            return None
        if not _MODULE.fullmatch(module):
            raise ValueError(
                f"{module!r} is not a dotted module name, e.g. my_pipeline.definitions"
            )
        if info.data.get("python_file") is not None:
            raise ValueError("set python_file or module, not both")
        return module

    @field_validator("s3_prefix")
    @classmethod
    def _s3_prefix(cls, prefix: str, info: ValidationInfo) -> str:
        name = info.data.get("name")
        if name is None:
            return prefix
        own = f"repos/{name}"
        prefix = prefix or own
        if ".." in prefix or "//" in prefix or not (prefix == own or prefix.startswith(own + "/")):
            raise ValueError(f"{prefix!r} must be {own} or under {own}/ (and contain no '..')")
        return prefix.rstrip("/")

    @field_validator("read_from")
    @classmethod
    def _read_from(cls, names: list[str], info: ValidationInfo) -> list[str]:
        problems = []
        for other in names:
            try:
                validate_repo_name(other)
            except RepoError as error:
                problems.append(str(error))
            if other == info.data.get("name"):
                problems.append(f"{other!r} cannot read from itself: remove it from read_from")
        if problems:
            raise ValueError("; ".join(problems))
        return names

    @field_validator("environment")
    @classmethod
    def _unique_env(cls, env: list[EnvVar]) -> list[EnvVar]:
        names = [var.name for var in env]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variable(s) set more than once: {', '.join(dupes)}")
        return env

    @field_validator("commit")
    @classmethod
    def _commit(cls, commit: str | None) -> str | None:
        if commit is not None and not _SHA.fullmatch(commit):
            raise ValueError(f"{commit!r} is not a full commit sha (40 hex characters)")
        return commit

    @classmethod
    def problems(cls, data: Mapping[str, Any]) -> list[str]:
        """Every validation problem of ``data``, one line each (empty if it is valid)."""
        try:
            cls.model_validate(data)
        except ValidationError as error:
            return error_lines(error)
        return []

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> RepoConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise RepoError("invalid repository config: " + "; ".join(error_lines(error))) from None

    @classmethod
    def from_yaml(cls, text: str) -> RepoConfig:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or type(error).__name__
            raise RepoError(f"config.yml is not valid YAML{where}: {problem}") from None
        if not isinstance(data, dict):
            raise RepoError("config.yml must be a mapping with at least name and git_url")
        return cls.parse(data)

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def error_lines(error: ValidationError) -> list[str]:
    """Pydantic's errors as ``field.path: message`` lines, without the input values (which may
    hold secrets) or pydantic's URLs."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        where = _location(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (check its spelling)")
            continue
        message = item["msg"].removeprefix("Value error, ")
        lines.append(one_line(f"{where}: {message}" if where else message))
    return lines


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _as_value_error(check: Any, value: str) -> str:
    try:
        return str(check(value))
    except RepoError as error:
        raise ValueError(str(error)) from None
