"""The cost estimate: arithmetic on a documented price table, per component and code location."""

from __future__ import annotations

import pytest

from repository_manager.infra.cost import (
    HOURS_PER_MONTH,
    PRICES,
    Task,
    Topology,
    by_component,
    estimate,
    fargate_month,
    markdown,
    topology_for,
    totals,
)


def test_fargate_task_of_quarter_vcpu_and_half_gb() -> None:
    expected = (0.25 * PRICES.fargate_arm_vcpu_hour + 0.5 * PRICES.fargate_arm_gb_hour) * 730
    assert fargate_month(Task()) == pytest.approx(expected)
    assert fargate_month(Task(spot=True)) == pytest.approx(expected * 0.3)
    assert fargate_month(Task(count=2)) == pytest.approx(expected * 2)


def test_free_tier_covers_rds_and_alb_hours_but_not_fargate() -> None:
    lines = {(x.component, x.item): x for x in estimate(Topology())}
    rds = lines[("database", "RDS db.t3.micro")]
    assert rds.monthly == pytest.approx(PRICES.rds_t3_micro_hour * HOURS_PER_MONTH, abs=0.01)
    assert rds.after_free_tier == 0
    assert lines[("alb", "ALB hours + LCU")].after_free_tier == 0
    web = lines[("ecs", "webserver (Fargate ARM64)")]
    assert web.after_free_tier == web.monthly > 0


def test_each_code_location_is_priced_on_its_own() -> None:
    one = topology_for({"main": {}})
    two = topology_for({"main": {}, "sales": {"cpu": 512, "memory": 1024}})
    components = by_component(estimate(two))
    assert "code_location:sales" in components
    sales = components["code_location:sales"][0]
    assert sales > components["code_location:main"][0]
    assert totals(estimate(two))[0] == pytest.approx(totals(estimate(one))[0] + sales, abs=0.02)


def test_nat_replaces_public_task_ips_and_costs_more() -> None:
    without = totals(estimate(topology_for({"main": {}})))
    with_nat = estimate(topology_for({"main": {}}, nat=True))
    assert any(x.item == "NAT gateway" for x in with_nat)
    assert not any("public IPv4 of webserver" in x.item for x in with_nat)
    assert totals(with_nat)[1] > without[1]


def test_defaults_land_in_the_documented_band() -> None:
    before, after = totals(estimate(Topology()))
    assert after < before
    assert 30 < after < 60  # documented in docs/infrastructure.md: ~45 USD after free tier
    assert 70 < before < 110


def test_markdown_table_ends_with_the_totals() -> None:
    lines = estimate(Topology())
    before, after = totals(lines)
    assert (
        markdown(lines).splitlines()[-1] == f"| **total** | | **{before:.2f}** | **{after:.2f}** |"
    )
