"""Turning a Git repository into a Dagster code location: config, clone, discovery, build, check.

Every failure is a :class:`~repository_manager.repos.errors.RepoError` whose text is one
actionable line.
"""
