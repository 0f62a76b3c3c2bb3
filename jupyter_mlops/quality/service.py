"""Quality checks as a workspace service: validate with pandera, store the report as evidence.

``ws.quality.check(data, rules)`` validates a frame or a stored data version against a pandera
schema or a YAML rules file (see :mod:`jupyter_mlops.quality.rules`), collects every failure in
one pass (pandera's lazy mode), masks sensitive columns, and stores the report in one transaction
with its ``data.check`` audit event and lineage edges (``data_version -checked_by->
quality_report -logged_in-> run``). A failing report is stored before ``fail_on="error"`` raises:
the failure is evidence too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.hashing import canonical_json
from ..core.paths import parse_version_spec
from ..errors import InvalidInput, NotFound, QualityCheckFailed, UnsupportedData
from .findings import failures_from_pandera
from .report import QualityReport, QualityReportList
from .rules import RuleSet, load_rules, rules_from_schema
from .schema import quality_reports

if TYPE_CHECKING:
    from ..core.context import Context
    from ..data.service import DataService

__all__ = ["FAIL_ON", "QualityService"]

#: Accepted values of ``fail_on``.
FAIL_ON = (None, "error")


class QualityService:
    """Quality checks of one workspace (``ws.quality``), on frames and on the data service's versions."""

    def __init__(self, ctx: Context, data: DataService) -> None:
        self.ctx = ctx
        self.data = data

    # -- checking -----------------------------------------------------------------------------
    def check(
        self,
        data: Any,
        rules: Any,
        *,
        fail_on: str | None = None,
        sensitive: Iterable[str] = (),
    ) -> QualityReport:
        """Check ``data`` against ``rules``, store the report and return it.

        Parameters
        ----------
        data:
            A pandas DataFrame, a data version spec (``"arrests@2"``, ``"arrests@latest"``) or a
            ``DataVersion``. A version's sensitive columns are masked in the report.
        rules:
            A pandera ``DataFrameSchema`` (or ``DataFrameModel`` class) or the path of a YAML
            rules file.
        fail_on:
            ``"error"`` raises :class:`~jupyter_mlops.errors.QualityCheckFailed` (carrying the
            stored report as ``.report``) when any check fails; ``None`` (default) only reports.
        sensitive:
            More column names whose values must never appear in the report.

        Raises
        ------
        InvalidInput
            Bad rules (unknown check, with "did you mean"), a bad ``fail_on`` or an unknown
            sensitive column; nothing is written.
        NotFound
            The version spec does not exist; nothing is written.
        QualityCheckFailed
            ``fail_on="error"`` and a check failed (the report is stored first).
        """
        if fail_on not in FAIL_ON:
            raise InvalidInput(
                f"fail_on must be None or 'error', got {fail_on!r}",
                value=repr(fail_on)[:80],
                hint="use fail_on='error'",
                field="fail_on",
            )
        extra = _names(sensitive)
        ruleset = self._rules(rules)
        frame, ref, fingerprint, declared = self._data(data)
        masked = tuple(sorted(set(declared) | set(extra)))
        _require_columns(frame, extra)
        failures = _validate(ruleset, frame, set(masked))
        report = self._store(frame, ruleset, failures, ref, fingerprint, masked)
        if fail_on == "error" and not report.passed:
            err = QualityCheckFailed(
                f"{report.data_ref or 'the data'} failed {report.n_failed_checks} of {report.n_checks} quality checks "
                f"({ruleset.source}); report {report.id} was stored",
                value=report.id,
                hint="see the report's failures (err.report) and fix the data or the rules",
                report=report,
            )
            raise err
        return report

    def _rules(self, rules: Any) -> RuleSet:
        if isinstance(rules, RuleSet):
            return rules
        if isinstance(rules, (str, Path)):
            return load_rules(rules)
        return rules_from_schema(rules)

    def _data(self, data: Any) -> tuple[Any, str | None, str | None, tuple[str, ...]]:
        """The frame to check, its version ref and fingerprint, and its declared sensitive columns."""
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            _check_frame(data)
            return data, None, self._fingerprint(data), ()
        if isinstance(data, str) or _is_version(data):
            version = self._version(data)
            ref = f"{version.name}@{version.version}"
            frame = self.data.load(ref)
            if not isinstance(frame, pd.DataFrame):
                raise UnsupportedData(
                    f"{ref} is not a table (it loads as {type(frame).__name__})",
                    value=ref,
                    hint="quality rules apply to data frames; version the frame, not the file",
                    field="data",
                )
            _check_frame(frame)
            return frame, ref, str(version.fingerprint), _names(getattr(version, "sensitive", ()) or ())
        raise UnsupportedData(
            f"cannot check an object of type {type(data).__name__}",
            value=type(data).__name__,
            hint="pass a pandas DataFrame or a data version spec such as 'arrests@2'",
            field="data",
        )

    def _version(self, spec: Any) -> Any:
        if _is_version(spec):
            return spec
        parsed = parse_version_spec(spec, kind="data version")
        version = self.data.get(str(parsed))
        if version is None:
            raise NotFound(f"no data version {spec!r}", value=spec, hint="list versions with `jupyter-mlops data list`")
        return version

    @staticmethod
    def _fingerprint(frame: Any) -> str | None:
        """The data layer's full-content fingerprint of a frame given directly (``None`` if it has none)."""
        from ..data.fingerprint import fingerprint_object

        try:
            return fingerprint_object(frame)
        except UnsupportedData:  # mixed-type object columns can be checked, not fingerprinted
            return None

    def _store(
        self,
        frame: Any,
        ruleset: RuleSet,
        failures: tuple[Any, ...],
        ref: str | None,
        fingerprint: str | None,
        sensitive: tuple[str, ...],
    ) -> QualityReport:
        from ..tracking.runs import run_for

        ctx = self.ctx
        run = run_for(ctx)
        run_id = run.run_id if run is not None and run.ctx.settings.root == ctx.settings.root else None
        report_id = f"qr-{uuid.uuid4().hex[:20]}"
        name, _, number = (ref or "").partition("@")
        base: dict[str, Any] = {
            "data_ref": ref,
            "fingerprint": fingerprint,
            "rules_source": ruleset.source,
            "rules_sha256": ruleset.sha256,
            "passed": not failures,
            "n_rows": len(frame),
            "n_columns": len(frame.columns),
            "n_checks": ruleset.n_checks,
        }
        with ctx.transaction() as conn:
            event = ctx.record(
                conn,
                "data.check",
                "quality_report",
                report_id,
                {
                    **base,
                    "n_failed_checks": len(failures),
                    "failed": [[f.column, f.check, f.failing_rows] for f in failures[:100]],
                    "sensitive": list(sensitive),
                    "run_id": run_id,
                },
            )
            report = QualityReport(
                id=report_id,
                failures=failures,
                sensitive=sensitive,
                actor=ctx.actor,
                ts=event.ts,
                run_id=run_id,
                **base,
            )
            conn.execute(
                sa.insert(quality_reports).values(
                    id=report_id,
                    data_name=name or None,
                    data_version=int(number) if number.isdigit() else None,
                    n_failed_checks=len(failures),
                    failures=canonical_json([f.to_dict() for f in failures]),
                    sensitive=canonical_json(list(sensitive)),
                    actor=ctx.actor,
                    ts=event.ts,
                    run_id=run_id,
                    audit_seq=event.seq,
                    **base,
                )
            )
            if ref:
                ctx.link(conn, ("data_version", ref), "checked_by", ("quality_report", report_id))
            if run_id:
                ctx.link(conn, ("quality_report", report_id), "logged_in", ("run", run_id))
        if run is not None and run_id:
            label = name or "data"
            run.log_metric(f"quality.{label}.failed_checks", len(failures))
            run.set_tag(f"mlops.quality.{label}", "passed" if report.passed else "failed")
            run.set_tag(f"mlops.quality.{label}.report", report_id)
        return report

    # -- reading ------------------------------------------------------------------------------
    def get(self, report_id: str) -> QualityReport:
        """One stored report by id."""
        if not isinstance(report_id, str) or not report_id.startswith("qr-") or len(report_id) > 40:
            raise InvalidInput(
                f"invalid report id {report_id!r}", value=repr(report_id)[:80], hint="ids look like qr-1a2b...", field="id"
            )
        with self.ctx.read() as conn:
            row = conn.execute(sa.select(quality_reports).where(quality_reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(
                f"no quality report {report_id!r}", value=report_id, hint="list them with ws.quality.reports_for('name@N')"
            )
        return _from_row(row)

    def reports_for(self, spec: Any, *, limit: int = 100) -> QualityReportList:
        """Stored reports of one data version (``"arrests@2"``, ``"arrests@latest"`` or a ``DataVersion``), newest first."""
        if _is_version(spec):
            ref = f"{spec.name}@{spec.version}"
        else:
            parsed = parse_version_spec(spec, kind="data version")
            ref = str(parsed) if parsed.version is not None else self._ref_of(self._version(str(parsed)))
        return self._list(quality_reports.c.data_ref == ref, limit)

    def list(self, *, limit: int = 100) -> QualityReportList:
        """The most recent reports of the workspace, newest first."""
        return self._list(sa.true(), limit)

    def _list(self, where: Any, limit: int) -> QualityReportList:
        if not 1 <= int(limit) <= 10_000:
            raise InvalidInput(f"limit must be between 1 and 10000, got {limit}", value=limit, field="limit")
        q = sa.select(quality_reports).where(where).order_by(quality_reports.c.ts.desc()).limit(int(limit))
        with self.ctx.read() as conn:
            return QualityReportList(_from_row(r) for r in conn.execute(q))

    @staticmethod
    def _ref_of(version: Any) -> str:
        return f"{version.name}@{version.version}"


# -- helpers ----------------------------------------------------------------------------------------
def _is_version(obj: Any) -> bool:
    return not isinstance(obj, str) and all(hasattr(obj, a) for a in ("name", "version", "fingerprint"))


def _names(columns: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    out = tuple(columns)
    for c in out:
        if not isinstance(c, str) or not c or "\x00" in c or len(c) > 256:
            raise InvalidInput(f"invalid sensitive column name {c!r}", value=repr(c)[:80], field="sensitive")
    return out


def _check_frame(frame: Any) -> None:
    dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if dupes:
        raise UnsupportedData(
            f"the frame has duplicate column names: {', '.join(dupes)}",
            value=dupes,
            hint="rename the columns so each name appears once (df.columns = [...])",
            field="data",
        )


def _require_columns(frame: Any, sensitive: tuple[str, ...]) -> None:
    import difflib

    present = [str(c) for c in frame.columns]
    for c in sensitive:
        if c not in present:
            close = difflib.get_close_matches(c, present, n=1, cutoff=0.5)
            raise InvalidInput(
                f"sensitive column {c!r} is not in the data",
                value=c,
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"columns: {', '.join(present[:20])}",
                field="sensitive",
            )


def _validate(ruleset: RuleSet, frame: Any, sensitive: set[str]) -> tuple[Any, ...]:
    from pandera.errors import SchemaDefinitionError, SchemaError, SchemaErrors

    try:
        ruleset.schema.validate(frame, lazy=True)
    except SchemaErrors as err:
        return failures_from_pandera(err.failure_cases, ruleset, frame, sensitive)
    except SchemaError as err:  # pandera raises some errors eagerly even in lazy mode
        cases = getattr(err, "failure_cases", None)
        if cases is not None and hasattr(cases, "columns") and "check" in cases.columns:
            return failures_from_pandera(cases, ruleset, frame, sensitive)
        raise InvalidInput(
            f"the rules {ruleset.source} could not be applied: {type(err).__name__}",
            value=ruleset.source,
            hint="check that the rules match this table's columns and types",
        ) from err
    except SchemaDefinitionError as err:
        raise InvalidInput(
            f"the rules {ruleset.source} are not a valid pandera schema for this data: {str(err)[:200]}",
            value=ruleset.source,
            hint="fix the rules (column names, check arguments)",
        ) from err
    return ()


def _from_row(row: Any) -> QualityReport:
    data = dict(row._mapping)
    data["failures"] = json.loads(data["failures"])
    data["sensitive"] = json.loads(data["sensitive"] or "[]")
    data["passed"] = bool(data["passed"])
    return QualityReport.from_dict(data)
