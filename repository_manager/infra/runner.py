"""init / plan / apply / destroy of one environment, with everything generated outside the tree.

A run works in ``work_dir`` (default ``.local/infra/<env>/``, under ``$DAGSTER_ECS_STATE_DIR``
when set):

- ``config/``        a copy of ``infrastructure/`` (modules, envs, task definition templates); the
                     binary runs in ``config/envs/<env>`` so the lock file lands here, not in git
- ``data/``          ``TF_DATA_DIR`` (providers, modules)
- ``cli.tfrc``       the CLI config naming the provider mirror (``TF_CLI_CONFIG_FILE``)
- ``terraform.tfstate`` the local env's state (the aws env keeps state in S3)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from repository_manager import stackfile
from repository_manager.infra import InfraError, progress
from repository_manager.infra.binary import find_binary
from repository_manager.infra.emulator import client, emulator_credentials
from repository_manager.infra.mirror import find_mirror, write_cli_config
from repository_manager.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_ROOT = REPO_ROOT / "infrastructure"
ENVIRONMENTS = ("local", "aws")
TF_PORT_OFFSET = 100
"""The tofu environment's webserver and gRPC ports: the stack's own plus this, unless
``DAGSTER_ECS_TF_WEBSERVER_PORT``/``DAGSTER_ECS_TF_CODE_SERVER_PORT`` say otherwise. Its tasks
run beside the stack's on one host."""
LOCAL_BUCKET = "dagster-ecs-tf-local"  # infrastructure/envs/local: beside the dev stack
APPLIED_VARIABLES = "applied-variables.json"
STATE_BUCKET_ENV = "DAGSTER_ECS_STATE_BUCKET"
VARS_FILE = "dagster_ecs.auto.tfvars.json"
_IGNORED = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.backup", VARS_FILE
)
_DURATION = re.compile(
    r"^(?P<address>\S+): (?:Creation|Destruction|Modifications) complete after (?P<d>[0-9hms]+)"
)


@dataclass
class RunResult:
    command: str
    returncode: int
    output: str
    seconds: float
    resource_seconds: dict[str, float] = field(default_factory=dict)


def parse_duration(text: str) -> float:
    """``1m21s`` -> 81.0 (Terraform's and OpenTofu's progress format)."""
    total = 0.0
    for amount, unit in re.findall(r"(\d+)([hms])", text):
        total += int(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def resource_durations(output: str) -> dict[str, float]:
    durations: dict[str, float] = {}
    for line in output.splitlines():
        match = _DURATION.match(line.strip())
        if match:
            durations[match["address"]] = parse_duration(match["d"])
    return durations


def default_work_dir(env: str) -> Path:
    """``<state dir>/infra/<env>``: ``.local/`` unless ``DAGSTER_ECS_STATE_DIR`` says otherwise."""
    return StackSettings.from_env(REPO_ROOT).state_dir / "infra" / env


class InfraRunner:
    """Runs the IaC binary for ``env`` (``local``: the emulator; ``aws``: ap-southeast-2)."""

    def __init__(
        self,
        env: str = "local",
        *,
        work_dir: Path | None = None,
        infra_root: Path = INFRA_ROOT,
        binary: str | None = None,
        emulator_url: str | None = None,
        variables: dict[str, Any] | None = None,
        stream: bool = True,
    ) -> None:
        if env not in ENVIRONMENTS:
            raise InfraError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
        self.env = env
        self.work_dir = (work_dir or default_work_dir(env)).resolve()
        self.infra_root = infra_root
        self.binary = find_binary(binary)
        self._emulator_url = emulator_url
        self.variables = dict(variables) if variables is not None else self._applied_variables()
        """The variables given; without any, those of the environment's last apply, so a later
        command (``infra plan``, ``repo add --env``) applies the configuration that exists."""
        self.stream = stream
        self.autoscaling_note: str | None = None
        self.last_log: Path | None = None
        self._autoscaling_supported: bool | None = None

    @property
    def emulator_url(self) -> str:
        """The endpoint of the local environment: the one given, else the running stack's own."""
        if self._emulator_url is None:
            settings = StackSettings.from_env(REPO_ROOT)
            try:
                stackfile.require_own(settings)
            except stackfile.StackError as error:
                raise InfraError(f"{error} (the local environment lives in its emulator)") from None
            self._emulator_url = settings.emulator_url
        return self._emulator_url

    @property
    def workspace_file(self) -> Path:
        return self.work_dir / "workspace.yaml"

    def local_ports(self) -> dict[str, int]:
        """The local environment's webserver and gRPC ports, derived from the stack's."""
        ports = StackSettings.from_env(REPO_ROOT).ports
        return {
            "webserver_port": _env_port(
                "DAGSTER_ECS_TF_WEBSERVER_PORT", ports.webserver + TF_PORT_OFFSET
            ),
            "grpc_port": _env_port(
                "DAGSTER_ECS_TF_CODE_SERVER_PORT", ports.code_server + TF_PORT_OFFSET
            ),
        }

    @property
    def env_dir(self) -> Path:
        return self.work_dir / "config" / "envs" / self.env

    @property
    def state_path(self) -> Path:
        return self.work_dir / "terraform.tfstate"

    def environment(self) -> dict[str, str]:
        cli_config = write_cli_config(self.work_dir / "cli.tfrc", find_mirror())
        env = dict(os.environ)
        env.update(
            TF_CLI_CONFIG_FILE=str(cli_config),
            TF_DATA_DIR=str(self.work_dir / "data"),
            TF_IN_AUTOMATION="1",
            CHECKPOINT_DISABLE="1",
        )
        if self.env == "local" and self._emulator_url is not None:
            # The provider signs as the stack's administrator (IAM is enforced locally too);
            # never with the shell's own AWS profile.
            for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(key, None)
            env.update(emulator_credentials(self._emulator_url).environment())
        return env

    def sync_config(self) -> None:
        """Copies infrastructure/ into the work dir, keeping the lock file of earlier runs."""
        lock = self.env_dir / ".terraform.lock.hcl"
        saved = lock.read_text() if lock.is_file() else None
        config = self.work_dir / "config"
        if config.exists():
            shutil.rmtree(config)
        shutil.copytree(self.infra_root, config, ignore=_IGNORED)
        if saved is not None:
            lock.write_text(saved)

    def write_variables(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.env == "local":
            self._check_emulator()
            values["emulator_url"] = self.emulator_url
            values["workspace_file"] = str(self.workspace_file)
            values.update(self.local_ports())
            if "autoscaling_enabled" not in self.variables:
                values["autoscaling_enabled"] = self._emulator_has_autoscaling_tags()
        if "code_locations" not in self.variables:
            values["code_locations"] = self._discover_code_locations()
        values.update(self.variables)
        (self.env_dir / VARS_FILE).write_text(json.dumps(values, indent=2, sort_keys=True))
        return values

    def _check_emulator(self) -> None:
        try:
            client("sts", self.emulator_url).get_caller_identity()
        except (BotoCoreError, ClientError) as error:
            raise InfraError(
                f"the emulator at {self.emulator_url} is not answering ({error}); start it with "
                "`make dev`, or pass --emulator-url"
            ) from None

    def _check_credentials(self) -> None:
        """AWS: one line naming what to set, before tofu prints its own errors."""
        from repository_manager.environments import Environment, TargetError, check_credentials

        try:
            check_credentials(Environment("aws", "", None))
        except TargetError as error:
            raise InfraError(str(error)) from None

    def _emulator_has_autoscaling_tags(self) -> bool:
        from repository_manager.infra.emulator import autoscaling_tags_supported

        if self._autoscaling_supported is not None:
            return self._autoscaling_supported
        supported = self._autoscaling_supported = autoscaling_tags_supported(self.emulator_url)
        if not supported:
            self.autoscaling_note = (
                "emulator lacks application-autoscaling ListTagsForResource: "
                "applying without the autoscaling targets/policies (autoscaling_enabled=false)"
            )
            print(self.autoscaling_note, file=sys.stderr)
        return supported

    def _discover_code_locations(self) -> dict[str, dict[str, Any]]:
        from repository_manager.infra.code_locations import PLATFORM_LOCATION, discover
        from repository_manager.infra.emulator import s3_client

        bucket = self.variables.get("bucket_name") or (
            LOCAL_BUCKET if self.env == "local" else os.environ.get("DAGSTER_ECS_BUCKET")
        )
        if not bucket:
            return {PLATFORM_LOCATION: {}}
        endpoint = self.emulator_url if self.env == "local" else None
        try:
            return discover(s3_client(endpoint), str(bucket))
        except (BotoCoreError, ClientError) as error:
            raise InfraError(
                f"cannot list the registered repositories in s3://{bucket}/repos/: {error}"
            ) from None

    def _run(
        self,
        args: list[str],
        *,
        allowed: tuple[int, ...] = (0,),
        interactive: bool = False,
        quiet: bool = False,
    ) -> RunResult:
        """Runs the binary; with ``stream`` (and not ``quiet``) shows the lines that matter and
        keeps the whole output in a log file under ``work_dir/logs/``."""
        command = [self.binary, f"-chdir={self.env_dir}", *args]
        started = time.monotonic()
        env = self.environment()
        if interactive:
            completed = subprocess.run(command, env=env, check=False)
            result = RunResult(args[0], completed.returncode, "", time.monotonic() - started)
        else:
            lines: list[str] = []
            show = self.stream and not quiet
            log = progress.log_file(self.work_dir, args[0], time.strftime("%Y%m%d-%H%M%S"))
            self.last_log = log
            if show:
                print(f"{Path(self.binary).name} {args[0]} ({self.env}): full output in {log}")
            with (
                open(log, "w") as sink,
                subprocess.Popen(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ) as proc,
            ):
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line)
                    sink.write(line)
                    if show and (shown := progress.visible(line)) is not None:
                        print(shown, flush=True)
            output = "".join(lines)
            result = RunResult(
                args[0],
                proc.returncode,
                output,
                time.monotonic() - started,
                resource_durations(output),
            )
        if result.returncode not in allowed:
            where = f" (full output: {self.last_log})" if self.last_log else ""
            raise InfraError(
                f"{Path(self.binary).name} {args[0]} ({self.env}) failed with exit code "
                f"{result.returncode}: {_first_error(result.output)}{where}"
            )
        return result

    def init(self) -> RunResult:
        """Initialises the environment; a first init that fails leaves no work dir behind."""
        args = ["init", "-input=false", "-no-color"]
        if self.env == "local":
            args.append(f"-backend-config=path={self.state_path}")
        else:
            bucket = os.environ.get(STATE_BUCKET_ENV)
            if not bucket:
                raise InfraError(
                    f"set {STATE_BUCKET_ENV} to the S3 bucket that holds the state "
                    "(created once: see docs/infrastructure.md)"
                )
            self._check_credentials()
            args.append(f"-backend-config=bucket={bucket}")
        first = not self.work_dir.exists()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.sync_config()
            return self._run(args, quiet=True)
        except BaseException:
            if first:
                shutil.rmtree(self.work_dir, ignore_errors=True)
            raise

    def _prepare(self) -> None:
        """Checks the environment answers before anything is written."""
        if self.env == "aws":
            self._check_credentials()
        else:
            self._check_emulator()
        if not (self.work_dir / "data").is_dir():
            self.init()
        else:
            self.sync_config()
        self.write_variables()

    def plan(self) -> RunResult:
        """Exit code 0: no changes; 2: changes (``-detailed-exitcode``)."""
        self._prepare()
        return self._run(
            ["plan", "-input=false", "-no-color", "-detailed-exitcode"], allowed=(0, 2)
        )

    def apply(self, auto_approve: bool = False) -> RunResult:
        return self._change("apply", auto_approve)

    def destroy(self, auto_approve: bool = False) -> RunResult:
        """Destroys the environment, then the task definition revisions deploys registered.

        On the emulator the bucket is emptied first (every version): the local environment is
        disposable, and moto cannot empty a versioned bucket with ``force_destroy``. On AWS a
        bucket holding data stops the destroy, as it should.
        """
        applied = self._applied_stack()
        endpoint = self.emulator_url if self.env == "local" else None
        if self.env == "local" and applied.get("bucket_name"):
            empty_bucket(client("s3", endpoint), str(applied["bucket_name"]))
        try:
            result = self._change("destroy", auto_approve)
        except InfraError:
            if not self._moto_lost_a_rule():
                raise
            # moto (5.2.5) now and then answers a rule revoke it has applied with
            # InvalidPermission.NotFound under tofu's parallel calls; what is left is gone on a
            # second pass, which finds the rule already deleted.
            result = self._change("destroy", auto_approve)
        if self.env == "local":
            self.workspace_file.unlink(missing_ok=True)
        deploy = applied.get("deploy")
        if isinstance(deploy, dict):
            from repository_manager.deploy import deregister_revisions, families
            from repository_manager.deploy_targets import platform_from_outputs

            deregister_revisions(client("ecs", endpoint), families(platform_from_outputs(deploy)))
        return result

    def _moto_lost_a_rule(self) -> bool:
        """Whether the last run failed only on a security group rule the emulator lost."""
        if self.env != "local" or self.last_log is None or not self.last_log.is_file():
            return False
        text = self.last_log.read_text()
        errors = text.count("\nError: ")
        lost = text.count("Error: deleting VPC Security Group Rule")
        return errors > 0 and errors == lost and "InvalidPermission.NotFound" in text

    def _applied_stack(self) -> dict[str, Any]:
        """The ``stack`` output of what is applied; empty when nothing is."""
        if self.env == "local" and not self.state_path.is_file():
            return {}
        try:
            stack = self.outputs().get("stack")
        except InfraError:
            return {}
        return stack if isinstance(stack, dict) else {}

    def _change(self, verb: str, auto_approve: bool) -> RunResult:
        self._prepare()
        if self.env == "local" or auto_approve:
            result = self._run([verb, "-input=false", "-no-color", "-auto-approve"])
        else:
            result = self._run([verb], interactive=True)
        saved = self.work_dir / APPLIED_VARIABLES
        if verb == "apply":
            saved.write_text(json.dumps(self.variables, indent=2, sort_keys=True))
        else:
            saved.unlink(missing_ok=True)
        return result

    def _applied_variables(self) -> dict[str, Any]:
        saved = self.work_dir / APPLIED_VARIABLES
        if not saved.is_file():
            return {}
        values: dict[str, Any] = json.loads(saved.read_text())
        return values

    def outputs(self) -> dict[str, Any]:
        result = self._run(["output", "-json", "-no-color"], quiet=True)
        values: dict[str, Any] = {k: v["value"] for k, v in json.loads(result.output).items()}
        return values

    def validate(self) -> RunResult:
        """``init -backend=false`` + ``validate``: no state, no credentials, no emulator."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.sync_config()
        self._run(["init", "-backend=false", "-input=false", "-no-color"], quiet=True)
        return self._run(["validate", "-no-color"], quiet=True)

    def fmt_check(self) -> RunResult:
        """``fmt -check -recursive`` on the source tree (not the copy)."""
        completed = subprocess.run(
            [self.binary, "fmt", "-check", "-recursive", "-no-color", str(self.infra_root)],
            env=self.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise InfraError(
                f"not formatted: {' '.join(completed.stdout.split())} "
                f"(run `{Path(self.binary).name} fmt -recursive infrastructure`)"
            )
        return RunResult("fmt", 0, completed.stdout, 0.0)

    def graph(self) -> str:
        self._prepare()
        return self._run(["graph"], quiet=True).output


def empty_bucket(s3: Any, bucket: str) -> int:
    """Deletes every object version and delete marker; returns how many."""
    count = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
                count += 1
    except s3.exceptions.NoSuchBucket:
        return 0
    return count


def _first_error(output: str) -> str:
    for line in output.splitlines():
        cleaned = line.strip(" │╷╵")
        if cleaned.startswith("Error:"):
            return cleaned
    tail = [line for line in output.splitlines() if line.strip()]
    return tail[-1].strip() if tail else "no output"


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InfraError(f"{name}={raw!r} is not a port number; set it to an integer")
    return int(raw)
