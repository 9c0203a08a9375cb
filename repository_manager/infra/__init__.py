"""Infrastructure as code: OpenTofu/Terraform runs, task definition rendering, cost estimate."""

from __future__ import annotations


class InfraError(RuntimeError):
    """A one-line, actionable failure of an infrastructure command."""
