"""``deploy-dags``, ``rollback-dags``, ``dags-status``: DAG files to S3 as immutable deployments,
which every running code location's sync agent picks up (:mod:`dagster_code.dags_sync`)."""
