"""OpenLineage run events (START, COMPLETE, FAIL, ABORT) for every run, pipeline stage and pipeline.

Made from the audit events a committed transaction wrote (``run.start``, ``run.end``,
``run.reaped``, ``pipeline.start``, ``pipeline.end``), so they say exactly what the chain says,
and written once it committed: appended as JSON lines to ``[openlineage] file`` and/or POSTed to
``[openlineage] url`` (a Marquez or other OpenLineage endpoint). A stage run carries the standard
``parent`` facet naming its pipeline run, a failed one the ``errorMessage`` facet, each job the
``jobType`` facet. A delivery that fails is logged, never raised: the audit chain is the record.
The events are plain JSON built here (the ``openlineage-python`` client would add its HTTP stack
for what is one POST); they follow OpenLineage 2-0-2.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.context import SettingsView
    from ..core.entities import AuditEvent

__all__ = ["run_events", "send"]

log = logging.getLogger("jupyter_mlops.lineage")

PRODUCER = "https://github.com/jupyter-mlops/jupyter-mlops"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
_END = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}


def _run_uuid(run_id: str) -> str:
    """OpenLineage wants a UUID; a 32-hex MLflow run id is one, anything else is hashed into one."""
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jupyter-mlops:{run_id}"))


def _facet(name: str, version: str, **body: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{_FACETS}/{version}/{name}.json#/$defs/{name}", **body}


def run_events(events: Iterable[AuditEvent], namespace: str) -> list[dict[str, Any]]:
    """The OpenLineage RunEvents of the audit events that start or end a run or a pipeline run."""
    out = []
    for e in events:
        p = e.payload
        if e.action in ("run.start", "pipeline.start"):
            kind = "START"
        elif e.action in ("run.end", "pipeline.end"):
            kind = _END.get(str(p.get("status", "FINISHED")).upper(), "COMPLETE")
        elif e.action == "run.reaped":
            kind = "ABORT"
        else:
            continue
        pipeline = e.action.startswith("pipeline.")
        job_name = str(p.get("pipeline") or p.get("name") or e.object_id) if pipeline else str(p.get("name") or e.object_id)
        job_type = "PIPELINE" if pipeline else ("NOTEBOOK" if p.get("kind") in ("stage", "notebook") else "RUN")
        run_facets: dict[str, Any] = {}
        parent = p.get("parent_run_id")
        if parent:
            run_facets["parent"] = _facet(
                "ParentRunFacet", "1-0-1", run={"runId": _run_uuid(str(parent))}, job={"namespace": namespace, "name": "parent"}
            )
        if kind == "FAIL" and p.get("error"):
            run_facets["errorMessage"] = _facet(
                "ErrorMessageRunFacet", "1-0-0", message=str(p["error"])[:2000], programmingLanguage="python"
            )
        job_facets = {
            "jobType": _facet("JobTypeJobFacet", "2-0-3", processingType="BATCH", integration="JUPYTER-MLOPS", jobType=job_type)
        }
        out.append(
            {
                "eventType": kind,
                "eventTime": e.ts,
                "run": {"runId": _run_uuid(e.object_id), "facets": run_facets},
                "job": {"namespace": namespace, "name": job_name, "facets": job_facets},
                "inputs": [],
                "outputs": [],
                "producer": PRODUCER,
                "schemaURL": SCHEMA,
            }
        )
    return out


def send(events: list[AuditEvent], settings: SettingsView) -> None:
    """Deliver the run events of a committed transaction where ``[openlineage]`` says."""
    conf = settings.extra.get("openlineage", {})
    if not isinstance(conf, dict) or not (conf.get("file") or conf.get("url")) or not events:
        return
    found = run_events(events, str(conf.get("namespace") or f"jupyter-mlops/{settings.workspace_id}"))
    if not found:
        return
    lines = "".join(json.dumps(ev, sort_keys=True) + "\n" for ev in found)
    if conf.get("file"):
        path = Path(str(conf["file"])).expanduser()
        path = path if path.is_absolute() else settings.root / path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(lines)
        except OSError as exc:
            log.warning("jupyter-mlops: could not write OpenLineage events to %s: %s", path, exc)
    if conf.get("url"):
        _post(str(conf["url"]), found)


def _post(url: str, events: list[dict[str, Any]]) -> None:
    import urllib.error
    import urllib.request

    from ..core.paths import validate_uri

    target = validate_uri(url, kind="OpenLineage URL")
    if not target.startswith(("http://", "https://")):
        log.warning("jupyter-mlops: [openlineage] url must be http(s), got %s", target[:80])
        return
    for ev in events:
        body = json.dumps(ev).encode()
        req = urllib.request.Request(target, data=body, headers={"Content-Type": "application/json"})  # noqa: S310 - http(s) only
        try:
            with urllib.request.urlopen(req, timeout=5):  # noqa: S310 - a configured http(s) endpoint, validated
                pass
        except (urllib.error.URLError, OSError) as exc:
            log.warning("jupyter-mlops: could not post an OpenLineage event to %s: %s", target, exc)
            return
