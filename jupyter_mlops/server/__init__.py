"""The REST server extension (its routes come with the reviewer-UI issue)."""

from __future__ import annotations

from typing import Any


def load_server_extension(server_app: Any) -> None:
    """Register the REST routes on ``server_app`` (none yet in this release)."""
    server_app.log.info("jupyter_mlops server extension loaded (no routes yet)")
