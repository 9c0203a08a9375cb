#!/usr/bin/env bash
# Entrypoint of the platform image: the webserver and daemon render their workspace from
# Cloud Map (the code locations registered in the namespace) before starting, and keep it
# current in the background while they run (a replaced code location task has a new address).
set -euo pipefail

# The program: `python -m dagster_code.webserver` is the webserver (dagster-webserver following
# its workspace file).
program="${1:-}"
if [[ "${program}" == python && "${2:-}" == -m ]]; then
  program="${3:-}"
fi

case "${program}" in
  dagster | dagster-webserver | dagster_code.webserver | dagster-daemon)
    if [[ -z "${DAGSTER_S3_BUCKET:-}" ]]; then
      echo "error: DAGSTER_S3_BUCKET is not set: set it to the platform bucket (tofu output s3_bucket_name) in the task definition" >&2
      exit 78
    fi
    ;;
esac

# Only those two: a run task starts from the daemon's task definition (EcsRunLauncher), so it has
# the same variables, but it runs as its code location's role, which may not read Cloud Map.
serves_a_workspace=false
case "${program}" in
  dagster-webserver | dagster_code.webserver | dagster-daemon) serves_a_workspace=true ;;
esac
if [[ "${serves_a_workspace}" == true && -n "${DAGSTER_WORKSPACE_FILE:-}" \
  && -n "${DAGSTER_SERVICE_NAMESPACE:-}" ]]; then
  python -m repository_manager.workspace \
    --namespace "${DAGSTER_SERVICE_NAMESPACE}" \
    --output "${DAGSTER_WORKSPACE_FILE}"
  # $$ becomes the main process at `exec`; the watcher stops when it is gone.
  python -m repository_manager.workspace \
    --namespace "${DAGSTER_SERVICE_NAMESPACE}" \
    --output "${DAGSTER_WORKSPACE_FILE}" \
    --watch "${DAGSTER_WORKSPACE_REFRESH_SECONDS:-10}" \
    --parent "$$" &
fi

# Where tasks share one host (the local image), "every address" means the task's own address,
# as it does inside a Fargate task's network namespace.
if [[ "${DAGSTER_ECS_BIND_TASK_ADDRESS:-}" == "1" && " $* " == *" --host 0.0.0.0 "* ]]; then
  address="$(python -m repository_manager.task_address)"
  command=()
  previous=""
  for argument in "$@"; do
    if [[ "${previous}" == "--host" && "${argument}" == "0.0.0.0" ]]; then
      argument="${address}"
    fi
    command+=("${argument}")
    previous="${argument}"
  done
  set -- "${command[@]}"
fi

# A code server serves the newest good DAG deployment in S3 (dags/{location}/), and follows new
# ones every DAG_SYNC_INTERVAL seconds without a restart; DAG_SYNC_INTERVAL=0 serves the image's.
if [[ "${1:-}" == dagster && "${2:-}" == code-server && "${DAG_SYNC_INTERVAL:-60}" != "0" ]]; then
  dags_dir="$(python -m dagster_code.dags_sync prepare -- "$@")"
  python -m dagster_code.dags_sync watch --parent "$$" -- "$@" &
  export DAGS_IMAGE_DIR="${DAGS_DIR:-}" DAGS_DIR="${dags_dir}"
fi
# The agent's own key (dag_sync_uses_s3_user) is not the code server's: its code runs as the
# task role, confined to the repository's prefixes.
unset DAG_SYNC_AWS_ACCESS_KEY_ID DAG_SYNC_AWS_SECRET_ACCESS_KEY

exec "$@"
