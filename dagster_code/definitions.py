"""Definitions entry point of a code location.

``dagster code-server start -m dagster_code.definitions --location-name <repo>`` loads the DAG
package named by ``DAGS_DIR`` (default ``dags/main``; its ``__init__.py`` exposes ``defs``) and
adds the platform's storage resources and executor. Needs ``DAGSTER_S3_BUCKET``; reads
``DAGSTER_REPO_NAME`` (default ``main``).
"""

from dagster_code.location import build_definitions

defs = build_definitions()
