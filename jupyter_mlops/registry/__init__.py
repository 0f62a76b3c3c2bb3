"""Registry (filled in by its issue)."""
