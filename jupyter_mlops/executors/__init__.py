"""Executors (filled in by its issue)."""
