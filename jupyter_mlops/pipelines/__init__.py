"""Pipelines (filled in by its issue)."""
