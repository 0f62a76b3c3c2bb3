"""The quality report: what was checked, against which rules, and every failure found.

A report is evidence. It is stored with the data version it checked, linked to the run that
checked it, and read back by model cards, so it holds only JSON-safe values and never a raw value
of a sensitive column: those are masked as ``***`` before the report object exists, so the HTML,
the text, ``to_dict()`` and the stored row cannot leak them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity, escape

__all__ = ["MASK", "MAX_EXAMPLES", "QualityFailure", "QualityReport", "QualityReportList"]

#: What a sensitive value is replaced with, everywhere.
from ..core.entities import MASK

#: Failing values kept per check.
MAX_EXAMPLES = 5


@dataclasses.dataclass(frozen=True)
class QualityFailure(Entity):
    """One failed check.

    Parameters
    ----------
    column:
        The column checked, or ``None`` for a check on the whole table (row counts, strictness).
    check:
        The rule's name: ``dtype``, ``nullable``, ``unique``, ``column_present``, ``ge``, ``isin``,
        ``str_matches``, ``min_rows``, a cross-column check's name ...
    expected:
        What the rule asked for (``"12"``, ``'["Yes","No"]'``, ``"int64"``), masked for sensitive columns.
    failing_rows:
        How many rows failed, or ``None`` when the failure concerns the column or table as a whole.
    examples:
        Up to five failing values (a mapping of column to value for cross-column checks),
        ``***`` for sensitive columns.
    found:
        For whole-column or whole-table failures, what was found instead (``"str"``, ``"3 rows"``,
        ``"missing"``, ``"could not run: TypeError"``).
    """

    column: str | None
    check: str
    expected: str | None = None
    failing_rows: int | None = None
    examples: tuple[Any, ...] = ()
    found: str | None = None

    def describe(self) -> str:
        """One line of text, e.g. ``age ge 12: 3 rows failed, e.g. 5, 7, 9``."""
        where = self.column if self.column is not None else "(table)"
        rule = f"{self.check} {self.expected}" if self.expected is not None else self.check
        if self.failing_rows is None:
            return f"{where} {rule}: found {self.found}"
        shown = ", ".join(_text(e) for e in self.examples)
        return f"{where} {rule}: {self.failing_rows} row{'s' if self.failing_rows != 1 else ''} failed" + (
            f", e.g. {shown}" if shown else ""
        )


@dataclasses.dataclass(frozen=True)
class QualityReport(Entity):
    """The outcome of checking one table against one set of rules.

    ``passed`` is true when no check failed. ``data_ref`` is the checked data version
    (``"arrests@2"``) when the data was versioned, ``fingerprint`` its content hash.
    """

    id: str
    passed: bool
    data_ref: str | None
    fingerprint: str | None
    rules_source: str
    rules_sha256: str
    n_rows: int
    n_columns: int
    n_checks: int
    failures: tuple[QualityFailure, ...]
    sensitive: tuple[str, ...]
    actor: str
    ts: str
    run_id: str | None = None

    @property
    def n_failed_checks(self) -> int:
        """How many checks failed."""
        return len(self.failures)

    @property
    def n_failing_rows(self) -> int:
        """Failing rows summed over the row-level failures (a row failing two checks counts twice)."""
        return sum(f.failing_rows or 0 for f in self.failures)

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["n_failed_checks"] = self.n_failed_checks
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        """Rebuild a report from :meth:`to_dict` output or a stored row."""
        data = dict(data)
        data["failures"] = tuple(
            f if isinstance(f, QualityFailure) else QualityFailure.from_dict(f) for f in data.get("failures") or ()
        )
        data["sensitive"] = tuple(data.get("sensitive") or ())
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_frame(self) -> Any:
        """The failures as a pandas DataFrame (one row per failed check)."""
        import pandas as pd

        columns = ["column", "check", "expected", "failing_rows", "examples", "found"]
        return pd.DataFrame([{c: getattr(f, c) for c in columns} for f in self.failures], columns=columns)

    def __str__(self) -> str:
        head = (
            f"quality report {self.id}: {'PASSED' if self.passed else 'FAILED'} "
            f"({self.n_failed_checks} of {self.n_checks} checks failed) on "
            f"{self.data_ref or 'a data frame'} ({self.n_rows} rows, {self.n_columns} columns) "
            f"against {self.rules_source}"
        )
        lines = [head, *(f"  - {f.describe()}" for f in self.failures)]
        if self.sensitive:
            lines.append(f"  sensitive columns masked: {', '.join(self.sensitive)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour, verdict = ("#1a7f37", "&#10003; passed") if self.passed else ("#cf222e", "&#10007; failed")
        head = (
            f"<div class='mlops-quality'><b style='color:{colour}'>{verdict}</b> "
            f"<b>{escape(self.data_ref or 'data frame')}</b> against <code>{escape(self.rules_source)}</code>: "
            f"{self.n_failed_checks} of {self.n_checks} checks failed, {self.n_rows} rows, {self.n_columns} columns"
            f"<br><small>report <code>{escape(self.id)}</code> by {escape(self.actor)} at {escape(self.ts[:19])}"
            + (f", run <code>{escape(self.run_id[:12])}</code>" if self.run_id else "")
            + (f", fingerprint <code>{escape(self.fingerprint[:16])}</code>" if self.fingerprint else "")
            + "</small>"
        )
        if not self.failures:
            return head + "</div>"
        rows = "".join(
            "<tr>"
            f"<td>{escape(f.column if f.column is not None else '(table)')}</td>"
            f"<td><code>{escape(f.check)}</code></td>"
            f"<td>{escape(f.expected if f.expected is not None else '')}</td>"
            f"<td style='text-align:right'>{escape(f.failing_rows if f.failing_rows is not None else '')}</td>"
            f"<td>{escape(f.found or ', '.join(_text(e) for e in f.examples))}</td>"
            "</tr>"
            for f in self.failures
        )
        masked = (
            f"<br><small>sensitive columns (values masked): {escape(', '.join(self.sensitive))}</small>" if self.sensitive else ""
        )
        return (
            f"{head}<table><thead><tr><th>column</th><th>check</th><th>expected</th><th>failing rows</th>"
            f"<th>examples / found</th></tr></thead><tbody>{rows}</tbody></table>{masked}</div>"
        )


class QualityReportList(list[QualityReport]):
    """Stored reports, newest first; an HTML table in notebooks."""

    def to_dict(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self]

    def __str__(self) -> str:
        if not self:
            return "no quality reports"
        return "\n".join(
            f"{r.ts[:19]}  {'PASSED' if r.passed else 'FAILED'}  {r.id}  {r.data_ref or r.fingerprint or ''}  "
            f"{r.rules_source}  {r.n_failed_checks}/{r.n_checks} failed"
            for r in self
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(r.ts[:19])}</td><td style='color:{'#1a7f37' if r.passed else '#cf222e'}'>"
            f"{'passed' if r.passed else 'failed'}</td><td><code>{escape(r.id)}</code></td>"
            f"<td>{escape(r.data_ref or '')}</td><td>{escape(r.rules_source)}</td>"
            f"<td>{r.n_failed_checks} / {r.n_checks}</td><td>{escape(r.actor)}</td></tr>"
            for r in self
        )
        return (
            "<table class='mlops-quality-reports'><tr><th>time (UTC)</th><th>result</th><th>report</th><th>data</th>"
            f"<th>rules</th><th>failed checks</th><th>actor</th></tr>{rows}</table>"
        )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_text(v)}" for k, v in value.items()) + "}"
    return str(value)
