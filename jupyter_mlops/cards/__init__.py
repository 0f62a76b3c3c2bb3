"""Cards (filled in by its issue)."""
