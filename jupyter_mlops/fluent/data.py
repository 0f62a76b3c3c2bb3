"""Fluent shortcuts for data versions and quality checks, on the current workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import current_workspace

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..data.entities import DataDiff, DataVersion, DataVersionList
    from ..quality.report import QualityReport

__all__ = ["check_data", "diff_data", "list_data", "load_data", "version_data"]


def check_data(data: Any, rules: Any, *, fail_on: str | None = None, sensitive: tuple[str, ...] = ()) -> QualityReport:
    """Check a frame or a data version against quality rules and store the report.

    Parameters
    ----------
    data:
        A pandas DataFrame or a data version spec such as ``"arrests@2"`` (its sensitive
        columns are masked in the report).
    rules:
        A pandera ``DataFrameSchema`` or the path of a YAML rules file
        (format: :mod:`jupyter_mlops.quality.rules`).
    fail_on:
        ``"error"`` raises :class:`~jupyter_mlops.errors.QualityCheckFailed` after storing a
        failing report; ``None`` only reports.
    sensitive:
        More columns whose values must never appear in the report.

    Returns
    -------
    QualityReport
        Every failure (column, check, failing rows, up to five examples), shown as HTML.
    """
    return current_workspace().quality.check(data, rules, fail_on=fail_on, sensitive=sensitive)


def version_data(
    obj: Any,
    name: str,
    *,
    key: str | Sequence[str] | None = None,
    sensitive: str | Sequence[str] = (),
    description: str | None = None,
) -> DataVersion:
    """Version a DataFrame, Series, file or folder: full-content fingerprint, profile and snapshot.

    Parameters
    ----------
    obj:
        A pandas DataFrame or Series, or the path of a file or folder.
    name:
        The data set name, e.g. ``"arrests"``; versions are numbered 1, 2, ... per name.
    key:
        Column(s) identifying a row (unique, no missing values), used by row-level diffs.
    sensitive:
        Columns whose values are masked everywhere; reading the snapshot needs permission.
    description:
        Free text kept with the version.

    Returns
    -------
    DataVersion
        The new version, or the latest one if nothing changed (no new bytes written). Inside a
        tracked run the version is linked to the run.
    """
    return current_workspace().data.version(obj, name, key=key, sensitive=sensitive, description=description)


def load_data(spec: str) -> Any:
    """Load a version back exactly (``"arrests@3"``, ``"arrests@latest"``, ``"arrests@<fingerprint>"``).

    Returns
    -------
    pandas.DataFrame | pandas.Series | bytes | dict[str, bytes]
        The frame (dtypes included), a file's bytes or a folder's files, after re-checking hashes.
    """
    return current_workspace().data.load(spec)


def diff_data(a: str, b: str, *, key: str | Sequence[str] | None = None) -> DataDiff:
    """Schema, row-count and profile changes from version ``a`` to ``b`` (rows too, given a key).

    Returns
    -------
    DataDiff
        Rendered as HTML in notebooks; sensitive values are masked.
    """
    return current_workspace().data.diff(a, b, key=key)


def list_data(name: str | None = None) -> DataVersionList:
    """Data versions of the current workspace, newest first (of one data set if ``name`` is given)."""
    return current_workspace().data.list(name)
