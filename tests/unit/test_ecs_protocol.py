"""The runtime <-> emulator hook messages: ECS's camelCase on the wire, and a key either side
does not know is refused instead of dropped."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dagster_ecs_emulator.ecs_protocol import DeploymentReport, Report, ServiceReport, TaskReport


def test_a_report_travels_in_ecs_s_field_names_and_back() -> None:
    report = Report(
        tasks=[
            TaskReport(
                account="1",
                region="r",
                task_arn="arn:t",
                last_status="STOPPED",
                health_status="UNKNOWN",
                containers=[],
                stop_code="EssentialContainerExited",
            )
        ],
        services=[
            ServiceReport(
                account="1",
                region="r",
                cluster="c",
                service="s",
                running_count=0,
                pending_count=0,
                deployments=[
                    DeploymentReport(id="d", running_count=0, pending_count=0, rollback=True)
                ],
            )
        ],
    )
    wire = report.wire()
    assert wire["tasks"][0]["stopCode"] == "EssentialContainerExited"  # type: ignore[index]
    assert "stoppedReason" not in wire["tasks"][0]  # type: ignore[operator]
    assert wire["services"][0]["deployments"][0]["rollback"] is True  # type: ignore[index]
    assert Report.model_validate(wire) == report


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="drainned"):
        DeploymentReport.model_validate(
            {"id": "d", "runningCount": 0, "pendingCount": 0, "drainned": True}
        )
