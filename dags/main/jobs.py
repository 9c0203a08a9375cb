"""Job, schedule and sensor of the sample order pipeline."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)
from dagster_aws.s3 import S3Resource

from .assets import all_assets
from .resources import OrderInbox

main_assets_job = define_asset_job(
    "main_assets_job",
    selection=AssetSelection.assets(*all_assets),
    description="Materializes every sample order asset.",
)

daily_orders_schedule = ScheduleDefinition(
    name="daily_orders_schedule",
    job=main_assets_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Australia/Sydney",
    default_status=DefaultScheduleStatus.STOPPED,
)


@sensor(
    job=main_assets_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
)
def new_orders_sensor(
    context: SensorEvaluationContext, s3: S3Resource, order_inbox: OrderInbox
) -> SensorResult | SkipReason:
    """One run per new object in the repository's inbox.

    The cursor is the last key seen, so inbox object names must sort in arrival order
    (e.g. ``2026-11-29T0700-orders.csv``).
    """
    listing = {"Bucket": order_inbox.bucket, "Prefix": order_inbox.prefix, "MaxKeys": 100}
    if context.cursor:
        listing["StartAfter"] = context.cursor
    response = s3.get_client().list_objects_v2(**listing)
    keys = [item["Key"] for item in response.get("Contents", []) if not item["Key"].endswith("/")]
    if not keys:
        return SkipReason(f"no new objects under s3://{order_inbox.bucket}/{order_inbox.prefix}")
    return SensorResult(
        run_requests=[RunRequest(run_key=key, tags={"orders/inbox_key": key}) for key in keys],
        cursor=keys[-1],
    )
