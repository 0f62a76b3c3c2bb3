"""Data (filled in by its issue)."""
