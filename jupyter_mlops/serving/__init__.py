"""Serving (filled in by its issue)."""
