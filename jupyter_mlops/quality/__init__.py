"""Quality (filled in by its issue)."""
