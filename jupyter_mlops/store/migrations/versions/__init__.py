"""Alembic revisions of the metadata schema (``rev_<id>_<what>.py``); see the package docstring."""
