"""Sample order pipeline: raw_orders -> cleaned_orders -> order_summary -> order_report."""

import random
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, asset

from .resources import SampleOrders

Order = dict[str, Any]

REGIONS = ("apac", "emea", "amer")


@asset(group_name="orders")
def raw_orders(sample_orders: SampleOrders) -> list[Order]:
    """Deterministic sample orders, including a few invalid rows for cleaning to drop."""
    rng = random.Random(sample_orders.seed)
    orders: list[Order] = []
    for number in range(1, sample_orders.count + 1):
        orders.append(
            {
                "order_id": f"o-{number:04d}",
                "region": rng.choice(REGIONS).upper() if number % 5 else f" {rng.choice(REGIONS)} ",
                "amount": round(rng.uniform(-5, 250), 2),
                "quantity": rng.randint(0, 4),
            }
        )
    return orders


@asset(group_name="orders")
def cleaned_orders(context: AssetExecutionContext, raw_orders: list[Order]) -> list[Order]:
    """Orders with a positive amount and quantity, and a normalised region."""
    cleaned = [
        {**order, "region": order["region"].strip().lower()}
        for order in raw_orders
        if order["amount"] > 0 and order["quantity"] > 0
    ]
    context.log.info("kept %d of %d orders", len(cleaned), len(raw_orders))
    return cleaned


@asset(group_name="orders")
def order_summary(cleaned_orders: list[Order]) -> dict[str, dict[str, Any]]:
    """Order count and revenue per region."""
    summary: dict[str, dict[str, Any]] = {}
    for order in cleaned_orders:
        region = summary.setdefault(order["region"], {"orders": 0, "revenue": 0.0})
        region["orders"] += 1
        region["revenue"] = round(region["revenue"] + order["amount"] * order["quantity"], 2)
    return summary


@asset(group_name="orders", deps=[order_summary])
def order_report(context: AssetExecutionContext) -> MaterializeResult:
    """Marks that the summary is ready for readers; carries no value of its own."""
    context.log.info("order summary refreshed")
    return MaterializeResult(metadata={"source": "order_summary"})


all_assets = [raw_orders, cleaned_orders, order_summary, order_report]
