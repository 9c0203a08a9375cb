"""DAG deployments: the S3 layout and manifest both sides share, the sync agent that runs beside
each code server, and the pieces that pin a run to the deployment it was launched with.

A deployment is immutable: ``dags/{location}/.deployments/{id:08d}.json`` lists every file with
the S3 version id it was uploaded as, so any task can rebuild exactly that tree later, whatever
was uploaded since.
"""
