"""Platform side of every Dagster code location.

A code location is one repository's DAG package plus the platform's storage resources. The
package is found through ``DAGS_DIR`` and its ``__init__.py`` exposes ``defs`` (a
``dagster.Definitions``); :mod:`dagster_code.definitions` merges in S3 storage confined to
``repos/{DAGSTER_REPO_NAME}/`` of ``DAGSTER_S3_BUCKET``. AWS endpoints come only from the
standard ``AWS_ENDPOINT_URL`` variable, so the same code runs against AWS and the emulator.
"""
