"""The one exception tree of jupyter-mlops.

Every error the public API raises is an :class:`MlopsError`. Third-party errors (MLflow,
papermill, SQLAlchemy, pandera) are wrapped at the adapter that calls them, so callers catch one
family. Each front-end translates once: a one-line message in a notebook, a JSON body with
``http_status`` on the REST server, an ``exit_code`` on the CLI.

::

    MlopsError
    ├── InvalidInput                 bad user input (400, exit 2)
    │   ├── UnsafePath               a name, path or URI refused by the validator
    │   └── UnsupportedData          an object of a type or shape we cannot version
    ├── WorkspaceError               the .mlops/ folder itself (exit 3)
    │   ├── WorkspaceNotFound        no .mlops/ above the working directory
    │   ├── WorkspaceCorrupt         a foreign or damaged .mlops/ (or a database driver is missing)
    │   ├── WorkspaceReadOnly        a write was needed on a workspace this user cannot write
    │   └── SchemaTooNew             the metadata DB was written by a newer release
    ├── NotFound                     an unknown run, version, alias, stage ... (404)
    ├── Conflict                     the state does not allow it (409)
    │   └── ReviewRuleViolation      four-eyes, missing evaluation or card, unapproved promote
    ├── PermissionDenied             the acting identity lacks a role (403)
    ├── IntegrityError               stored bytes or records do not match their hash
    │   └── AuditChainBroken
    ├── TrackingError                the tracking back-end (MLflow) failed
    ├── QualityCheckFailed           data failed its rules in ``fail_on`` mode
    └── PipelineError                a pipeline or stage could not run or failed
        └── StageFailed

Errors carry structured fields (``value``, ``hint``) so every front-end can show what failed, the
offending value and the fix, and they pickle (they cross process and Dask boundaries). A password
inside a URL (``postgresql://user:secret@host/db``) is masked in the message, value and hint of
every error as it is made, so no front-end can show one.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "AuditChainBroken",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "MlopsError",
    "NotFound",
    "PermissionDenied",
    "PipelineError",
    "QualityCheckFailed",
    "ReviewRuleViolation",
    "SchemaTooNew",
    "StageFailed",
    "TrackingError",
    "UnsafePath",
    "UnsupportedData",
    "WorkspaceCorrupt",
    "WorkspaceError",
    "WorkspaceNotFound",
    "WorkspaceReadOnly",
    "redact",
]


class MlopsError(Exception):
    """Base of every jupyter-mlops error.

    Parameters
    ----------
    message:
        What failed, in one sentence.
    value:
        The offending value, when there is one (shown shortened, never executed).
    hint:
        How to fix it, for example ``"run `jupyter-mlops init` first"``.
    field:
        The name of the argument or field that was wrong, when there is one.
    """

    http_status: int = 500
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        value: Any = None,
        hint: str | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.value = redact(value) if isinstance(value, str) else value
        self.hint = redact(hint) if hint else hint
        self.field = field
        self.details = details

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.value, self.hint, self.field, self.details))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description for REST bodies and ``--json`` output (no traceback)."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.field:
            out["field"] = self.field
        return out


def _rebuild(
    cls: type[MlopsError],
    message: str,
    value: Any,
    hint: str | None,
    field: str | None,
    details: dict[str, Any],
) -> MlopsError:
    err = cls.__new__(cls)
    MlopsError.__init__(err, message, value=value, hint=hint, field=field, **details)
    return err


class InvalidInput(MlopsError, ValueError):
    """A value given by the user is not acceptable."""

    http_status = 400
    exit_code = 2


class UnsafePath(InvalidInput):
    """A name, path or URI was refused by the validator (traversal, NUL byte, too long ...)."""


class UnsupportedData(InvalidInput):
    """An object cannot be versioned or checked (wrong type, empty, duplicate columns ...)."""


class WorkspaceError(MlopsError):
    """Something is wrong with the workspace folder itself."""

    http_status = 500
    exit_code = 3


class WorkspaceNotFound(WorkspaceError):
    """No ``.mlops/`` folder was found."""


class WorkspaceCorrupt(WorkspaceError):
    """The ``.mlops/`` folder is damaged, foreign or not writable."""


class WorkspaceReadOnly(WorkspaceError):
    """The workspace can be read but not written by this user (an archived or evidence copy).

    Raised before anything is changed, by the one place that opens write transactions.
    """

    http_status = 409


class SchemaTooNew(WorkspaceError):
    """The metadata database was written by a newer jupyter-mlops."""


class NotFound(MlopsError, LookupError):
    """An unknown run, data version, model version, alias, stage ..."""

    http_status = 404
    exit_code = 4


class Conflict(MlopsError):
    """The current state does not allow the operation."""

    http_status = 409
    exit_code = 5


class ReviewRuleViolation(Conflict):
    """A governance rule refused the operation (four eyes, missing card, unapproved promote)."""


class PermissionDenied(MlopsError, PermissionError):
    """The acting identity does not hold the role the operation needs."""

    http_status = 403
    exit_code = 6


class IntegrityError(MlopsError):
    """Stored bytes or records do not match the hash recorded for them."""

    http_status = 409
    exit_code = 7


class AuditChainBroken(IntegrityError):
    """The audit hash chain does not verify."""


class TrackingError(MlopsError):
    """The tracking back-end failed (wraps MLflow errors)."""

    http_status = 502


class QualityCheckFailed(MlopsError):
    """Data failed its quality rules and the caller asked to stop on failure."""

    http_status = 409
    exit_code = 1

    @property
    def report(self) -> Any:
        """The stored :class:`~jupyter_mlops.quality.report.QualityReport` that failed (or ``None``)."""
        return self.details.get("report")


class PipelineError(MlopsError):
    """A notebook or pipeline could not run."""

    exit_code = 1


class StageFailed(PipelineError):
    """A pipeline stage ended in another outcome than SUCCEEDED."""


#: ``scheme://user:password@`` (the password is everything up to the last ``@`` of the authority).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*):(?P<secret>[^\s/]*)@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m.group('head')}:***@" if m.group("secret") else m.group(0), text)
