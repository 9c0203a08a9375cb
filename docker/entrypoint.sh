#!/usr/bin/env bash
# Entrypoint of the platform image: the webserver and daemon render their workspace from
# Cloud Map (the code locations registered in the namespace) before starting, and keep it
# current in the background while they run (a replaced code location task has a new address).
set -euo pipefail

if [[ -n "${DAGSTER_WORKSPACE_FILE:-}" && -n "${DAGSTER_SERVICE_NAMESPACE:-}" ]]; then
  python -m repository_manager.workspace \
    --namespace "${DAGSTER_SERVICE_NAMESPACE}" \
    --output "${DAGSTER_WORKSPACE_FILE}"
  # $$ becomes the main process at `exec`; the watcher stops when it is gone.
  python -m repository_manager.workspace \
    --namespace "${DAGSTER_SERVICE_NAMESPACE}" \
    --output "${DAGSTER_WORKSPACE_FILE}" \
    --watch "${DAGSTER_WORKSPACE_REFRESH_SECONDS:-10}" \
    --parent "$$" \
    ${DAGSTER_WORKSPACE_RELOAD_URL:+--reload-url "${DAGSTER_WORKSPACE_RELOAD_URL}"} &
fi

exec "$@"
