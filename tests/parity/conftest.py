"""The parity suite runs on the integration suite's real processes: its emulator fixtures."""

from tests.integration.conftest import aws_env, emulator

__all__ = ["aws_env", "emulator"]
