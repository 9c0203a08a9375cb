"""Production's shape as a file: ``dagster-ecs snapshot`` reads a deployed environment (Describe,
List and Get calls only) and ``dagster-ecs parity`` compares two such shapes field by field."""
