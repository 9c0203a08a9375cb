"""The platform's own sample pipelines (repository ``main``).

Layout every DAG package follows: ``__init__.py`` exposes ``defs``; storage resources
(``io_manager``, ``s3``) and the executor come from the platform (``dagster_code``).
"""

from dagster import Definitions

from .assets import all_assets
from .jobs import daily_orders_schedule, main_assets_job, new_orders_sensor
from .resources import resources

defs = Definitions(
    assets=all_assets,
    jobs=[main_assets_job],
    schedules=[daily_orders_schedule],
    sensors=[new_orders_sensor],
    resources=resources,
)
