"""Every verb's failure cases: one line on stderr that says what to do, a non-zero exit, and
nothing created. No stack runs here (the two-stack tests cover a running one)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from repository_manager.snapshot.model import EnvironmentShape, LocationShape, Snapshot
from tests.integration.stack_fixtures import CLI, make_stack

pytestmark = pytest.mark.integration

NO_CREDENTIALS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "DAGSTER_ECS_STATE_BUCKET": "some-state-bucket",
}


def _snapshots(folder: Path) -> dict[str, Path]:
    """A snapshot file of another format, one naming an unreachable repository, a good one."""

    def written(name: str, locations: list[LocationShape]) -> Path:
        snapshot = Snapshot(
            taken_at=datetime.now(UTC),
            tool_version="0",
            environment=EnvironmentShape(
                name="aws", region="ap-southeast-2", account="1", cluster="c", bucket="b"
            ),
            services=[],
            roles=[],
            locations=locations,
        )
        snapshot.write(folder / name)
        return folder / name

    old = folder / "old.json"
    old.write_text(json.dumps({"format": 0}))
    gone = f"file://{folder}/no-such-repo"
    registry = {"name": "sales", "git_url": gone, "branch": "main"}
    return {
        "old": old,
        "unreachable": written(
            "gone.json", [LocationShape(name="sales", image="i", registry=registry)]
        ),
        "good": written("good.json", []),
    }


def _cases(state: Path) -> list[tuple[tuple[str, ...], int, str]]:
    files = _snapshots(state.parent)
    missing = state.parent / "missing.json"
    wrong = "error: --emulator-url is for --env local, not --env"
    not_running = f"error: the local stack of {state} is not running; start it with `make dev`"
    return [
        (("deploy",), 1, not_running),
        (("logs", "webserver"), 1, not_running),
        (("logs", "webserver", "--env", "local"), 1, not_running),
        (
            ("logs", "webserver", "--env", "aws"),
            1,
            "error: no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, for the account the stack lives in",
        ),
        (("logs", "webserver", "--env", "prod"), 1, "error: unknown environment 'prod': use one"),
        (("deploy", "--env", "nope"), 1, "error: unknown environment 'nope': use one of dev,"),
        *(
            ((*verb, "--env", env, "--emulator-url", "http://127.0.0.1:1"), 1, f"{wrong} {env}")
            for verb in (("deploy",), ("dags", "status"), ("repo", "list"))
            for env in ("dev", "aws")
        ),
        (
            ("deploy", "--env", "aws"),
            1,
            "error: environment aws is not initialised; run `make infra-init ENV=aws`",
        ),
        (("snapshot", "--env", "dev"), 1, not_running),
        (("parity", "--env", "dev", "--against", "no.json"), 2, "error: 'no.json' is neither an"),
        (("parity", "--env", "dev", "--against", "aws"), 2, not_running),
        (("parity", "--env", "aws"), 2, "error: environment aws is not initialised; run `make"),
        (("dev", "up", "--snapshot", str(missing)), 2, f"error: cannot read snapshot {missing}"),
        (("dev", "restore", str(files["old"])), 2, f"error: {files['old']} is snapshot format 0"),
        (("dev", "up", "--snapshot", str(files["unreachable"])), 2, "error: cannot restore sales:"),
        (("dev", "restore", str(files["good"])), 1, not_running),
        (("replay", "--snapshot", str(missing)), 2, f"error: cannot read snapshot {missing}"),
        (("replay", "--snapshot", str(files["good"])), 2, "error: the snapshot holds no run:"),
        (("infra", "plan"), 1, "error: say which environment: ENV=local"),
        (("infra", "plan", "--env", "local"), 1, not_running.removesuffix("`make dev`")),
        (("infra", "plan", "--env", "aws"), 1, "error: no AWS credentials: set AWS_PROFILE"),
        (("infra", "apply", "--env", "aws"), 1, "error: no AWS credentials: set AWS_PROFILE"),
        (("dev", "start"), 2, "error: no such command 'start'; did you mean 'up'?"),
        (("dev", "logs", "nope", "--no-follow"), 2, "error: unknown component 'nope'"),
        (("deploy", "--imag", "x"), 2, "error: no such option: --imag"),
    ]


def test_every_failure_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    idle = make_stack(state, **NO_CREDENTIALS)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        idle.env.pop(key, None)
    for args, code, expected in _cases(state):
        result = subprocess.run(
            [CLI, *args], env=idle.env, capture_output=True, text=True, timeout=120
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(expected), (args, lines[0])
        assert "Traceback" not in result.stdout
    assert not (state / "infra").exists(), "a failed infra command left its work dir behind"
    assert not (state / "stack.json").exists()


def test_status_of_a_stack_never_started_says_stopped(tmp_path: Path) -> None:
    idle = make_stack(tmp_path / "state")
    result = idle.cli("status")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "emulator" in line]
    assert rows and "stopped" in rows[0]
