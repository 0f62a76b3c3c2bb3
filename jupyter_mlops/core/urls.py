"""Credentials in URLs: found, masked and stripped in one place.

Team mode reads its credentials the way each engine already does: libpq reads ``PGPASSWORD`` or
a ``.pgpass``-style file (``PGPASSFILE``, ``~/.pgpass`` or ``[metadata] passfile``), MLflow reads
``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` or ``~/.mlflow/credentials``, and
fsspec's S3 back-end reads ``AWS_*`` variables or ``~/.aws/credentials``. A URL therefore never
needs a password; when one carries it anyway (from an environment variable), these helpers keep it
out of what is shown, written to ``config.toml`` or sent to a worker.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..errors import redact

__all__ = ["has_password", "mask_url", "strip_password"]


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password (``scheme://user:password@host``)."""
    if "://" not in url:
        return False
    try:
        return bool(urlsplit(url).password)
    except ValueError:  # a malformed port: let the validator name it
        return False


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages, ``config show``, audit payloads)."""
    return redact(url)


def strip_password(url: str) -> str:
    """``url`` without its password (the user name stays, so ``.pgpass`` lines still match)."""
    if not has_password(url):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
