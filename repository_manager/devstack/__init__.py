"""The local stack started by ``make dev``: the emulator, PostgreSQL and the Dagster processes."""
