#!/usr/bin/env bash
# Entrypoint of the platform image: the webserver and daemon render their workspace from
# Cloud Map (the code locations registered in the namespace) before starting.
set -euo pipefail

if [[ -n "${DAGSTER_WORKSPACE_FILE:-}" && -n "${DAGSTER_SERVICE_NAMESPACE:-}" ]]; then
  python -m repository_manager.workspace \
    --namespace "${DAGSTER_SERVICE_NAMESPACE}" \
    --output "${DAGSTER_WORKSPACE_FILE}"
fi

exec "$@"
