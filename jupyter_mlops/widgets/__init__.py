"""Widgets (filled in by its issue)."""
