"""Governance (filled in by its issue)."""
