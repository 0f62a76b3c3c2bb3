"""The model registry: log scikit-learn models with evidence, load them only if their bytes are intact.

MLflow stores the model and its registered versions and aliases; this service adds what an
auditor asks for (who logged it, the SHA-256 of every artifact file, the run, the data versions
and code it came from) and the review workflow on top (:mod:`jupyter_mlops.registry.review`).

A version is referred to as ``name@3``, ``name@latest``, ``name@<alias>`` or
``name@<manifest sha256 prefix>``; ``name@version`` is also its id in lineage and audit events.
Aliases are resolved from this registry's own alias history, and :meth:`ModelRegistry.load_model`
refuses an alias that MLflow points elsewhere (someone moved it around the review).
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.hashing import sha256_json
from ..core.paths import parse_version_spec, validate_name
from ..errors import IntegrityError, InvalidInput, MlopsError
from . import queries
from . import review as _review
from .entities import AliasCheck, AliasHistory, AliasMove, ModelTable, ModelVersion, Review
from .provenance import recorded_artifacts
from .schema import model_versions

if TYPE_CHECKING:
    from ..core.context import Context
    from ..data.service import DataService
    from ..tracking.models import PreparedModel
    from ..tracking.runs import ActiveRun, TrackedRun

__all__ = ["ModelRegistry"]


def _trusted(types: Any) -> tuple[str, ...]:
    if types is None:
        return ()
    if isinstance(types, str) or not all(isinstance(t, str) and t and len(t) < 512 for t in types):
        raise InvalidInput(
            "trusted_types must be a list of fully qualified type names",
            value=repr(types)[:80],
            hint="e.g. trusted_types=['mymodule.MyTransformer']",
            field="trusted_types",
        )
    return tuple(sorted(set(types)))


# Estimator objects this process loaded or logged: (workspace root, id) -> (weak reference, ref, content hash).
_known: dict[tuple[str, int], tuple[weakref.ref[Any], str, str]] = {}


def _remember(ctx: Context, model: Any, ref: str, sha: str) -> None:
    key = (str(ctx.settings.root), id(model))

    def forget(_gone: weakref.ref[Any]) -> None:
        _known.pop(key, None)

    try:
        ref_to = weakref.ref(model, forget)
    except TypeError:  # an object without weak references: matched by content hash only
        return
    _known[key] = (ref_to, ref, sha)


#: Looks up the evidence a review request rests on for ``name@N``: its latest evaluation or card, or ``None``.
EvidenceLookup = Callable[[str], Any]
#: Called after a version is logged: ``(ref, model content sha256, run id or None)``.
LoggedHook = Callable[[str, str, "str | None"], object]


class ModelRegistry:
    """Model logging, loading, listing and review for one workspace (``ws.models``).

    Parameters
    ----------
    ctx
        What the workspace gives a capability (:class:`~jupyter_mlops.core.context.Context`).
    data
        The data service: the training data a version was taken from.
    evaluation_of, card_of
        Where a review request finds the version's latest evaluation and model card (the
        capabilities that build on the registry; the composition root hands them in). Without
        them, no version can be submitted for review.
    on_logged
        Called once a version is logged, so the evaluations made of the same model earlier in
        the run attach to it.
    promotion_gate
        Called ``(ref, "promote")`` before a serving alias moves; raises to refuse (the
        governance capability's compliance gate, ``[review] require_compliance``).
    """

    def __init__(
        self,
        ctx: Context,
        data: DataService,
        *,
        evaluation_of: EvidenceLookup | None = None,
        card_of: EvidenceLookup | None = None,
        on_logged: LoggedHook | None = None,
        promotion_gate: Callable[[str, str], object] | None = None,
    ) -> None:
        self.ctx = ctx
        self.data = data
        self.evaluation_of = evaluation_of
        self.card_of = card_of
        self.on_logged = on_logged
        self.promotion_gate = promotion_gate

    # -- logging --------------------------------------------------------------------------------
    def log_model(
        self,
        model: Any,
        name: str,
        *,
        X_example: Any,
        serialization: str = "skops",
        trusted_types: list[str] | tuple[str, ...] | None = None,
    ) -> ModelVersion:
        """Log a fitted scikit-learn model (or pipeline) to MLflow and register a new version.

        Parameters
        ----------
        model:
            A fitted scikit-learn estimator or pipeline.
        name:
            The registered model name, e.g. ``"arrests-clf"``.
        X_example:
            A few training rows (DataFrame or 2-D array): the signature and input example come
            from its first five rows.
        serialization:
            ``"skops"`` (default, executes no code on load) or ``"cloudpickle"`` for models skops
            cannot represent (the bytes are still hash-checked before loading).
        trusted_types:
            Extra types skops may load for this model (recorded, and audited).

        Returns
        -------
        ModelVersion
            The new version with its artifact manifest, run, data versions and code hash.

        The model is logged inside the active tracked run (at the top level of a stage notebook:
        the stage run); without one, a run named ``log_model`` is opened and closed around the
        call. The data versions the run read (loaded or versioned in it, in its parent stage run,
        or declared as the stage's inputs) and the version ``X_example`` was taken from are
        recorded as its training data. Evaluations of the same model (by content hash) made
        earlier in the same run attach to the new version.
        """
        from ..tracking.models import prepare_sklearn
        from ..tracking.runs import ActiveRun, run_for

        name = validate_name(name, kind="model name")
        if X_example is None:
            raise InvalidInput(
                "X_example is required", hint="pass a few training rows, e.g. X_example=X_train.head()", field="X_example"
            )
        prepared = prepare_sklearn(model, X_example, serialization=serialization, trusted_types=_trusted(trusted_types))
        origin = self.data.origin(prepared.example)  # the rows the signature came from
        run = run_for(self.ctx)
        own: ActiveRun | None = None
        if run is None or run.ctx.settings.root != self.ctx.settings.root:
            own = ActiveRun(self.ctx, "log_model", kind="log_model")
            run = own.start()
        try:
            version = self._log_in_run(prepared, name, run, origin)
        except BaseException as exc:
            if own is not None:
                own.end(exc)
            raise
        if own is not None:
            own.end()
        # Evaluations of this very model made before it was logged now belong to the version.
        if self.on_logged is not None:
            self.on_logged(version.ref, prepared.content_sha256, None if own is not None else run.run_id)
        _remember(self.ctx, model, version.ref, prepared.content_sha256)
        return version

    def version_of(self, model: Any, run_id: str | None) -> str | None:
        """The registered version an estimator object is, if this workspace knows: ``"name@N"`` or ``None``.

        A model loaded with :meth:`load_model` (or logged with :meth:`log_model`) in this process
        is that version while its content is unchanged; otherwise the newest version with the same
        content hash logged in run ``run_id`` (``None``: logged outside any tracked run by this
        actor, in a ``log_model`` run of its own).
        """
        from ..tracking.models import model_sha256

        sha = model_sha256(model)
        known = _known.get((str(self.ctx.settings.root), id(model)))
        if known is not None and known[0]() is model and known[2] == sha:
            return known[1]
        return queries.version_by_content(self.ctx, sha, run_id)

    def _log_in_run(self, prepared: PreparedModel, name: str, run: TrackedRun, origin: dict[str, Any]) -> ModelVersion:
        from ..tracking import models as mlf

        run_id = run.run_id
        ctx = self.ctx
        backend = ctx.tracking
        trusted, serialization, model_type = prepared.trusted_types, prepared.serialization, prepared.model_type
        logged = mlf.log_sklearn(backend, prepared, run_id=run_id)
        number = mlf.register_version(backend, name, logged, run_id=run_id)
        ref = f"{name}@{number}"
        try:
            manifest = mlf.hash_artifacts(backend, logged.artifact_uri)
            manifest_sha = sha256_json(manifest)
            code_sha, data_versions = self._provenance(run, origin)
            with ctx.transaction() as conn:
                event = ctx.record(
                    conn,
                    "model.log",
                    "model_version",
                    ref,
                    {
                        "model_type": model_type,
                        "run_id": run_id,
                        "model_id": logged.model_id,
                        "serialization": serialization,
                        "trusted_types": list(trusted),
                        "manifest_sha256": manifest_sha,
                        "files": {k: v["sha256"] for k, v in manifest.items()},
                        "code_sha256": code_sha,
                        "data_versions": data_versions,
                        "model_sha256": prepared.content_sha256,
                        "example_origin": origin,
                    },
                )
                conn.execute(
                    sa.insert(model_versions).values(
                        name=name,
                        version=number,
                        author=ctx.actor,
                        created=event.ts,
                        run_id=run_id,
                        model_uri=logged.model_uri,
                        model_id=logged.model_id,
                        artifact_uri=logged.artifact_uri,
                        flavor="sklearn",
                        serialization=serialization,
                        trusted_types=json.dumps(list(trusted)),
                        manifest=json.dumps(manifest, sort_keys=True),
                        manifest_sha256=manifest_sha,
                        code_sha256=code_sha,
                        data_versions=json.dumps(data_versions),
                        signature=json.dumps(logged.signature) if logged.signature else None,
                        model_type=model_type,
                        status="none",
                        log_seq=event.seq,
                        model_sha256=prepared.content_sha256,
                    )
                )
                ctx.link(conn, ("run", run_id), "produced", ("model_version", ref))
                for dv in data_versions:
                    derived = origin.get("derived") if origin.get("data_version") == dv else None
                    edge = {"derived": derived} if derived else None
                    ctx.link(conn, ("data_version", dv), "trained", ("model_version", ref), edge)
        except BaseException:
            with contextlib.suppress(MlopsError):
                mlf.delete_version(backend, name, number)
            raise
        return self.get(ref)

    def _provenance(self, run: TrackedRun, origin: dict[str, Any]) -> tuple[str | None, list[str]]:
        """The run's code hash and the data versions it read (``X_example``'s version first).

        Read means loaded or versioned in the run, or in the stage run it belongs to, or declared
        as that stage's inputs (:func:`~jupyter_mlops.tracking.runs.reading_runs`).
        """
        from ..lineage.graph import data_read_by
        from ..tracking.runs import reading_runs
        from ..tracking.schema import runs

        run_id = run.run_id
        with self.ctx.read() as conn:
            code = conn.execute(sa.select(runs.c.source_sha256).where(runs.c.run_id == run_id)).scalar()
            read = data_read_by(conn, reading_runs(self.ctx, run))
        first = [origin["data_version"]] if origin.get("data_version") else []
        data_versions = list(dict.fromkeys([*first, *read]))
        if not code:
            code = self.ctx.tracking.get_run(run_id)["tags"].get("mlops.source_sha256")
        return (str(code) if code else None), data_versions

    # -- reading (registry/queries.py) -------------------------------------------------------------
    def get(self, spec: str) -> ModelVersion:
        """The version ``spec`` names (``name@3``, ``name@latest``, ``name@champion`` ...)."""
        return queries.get(self.ctx, spec)

    def resolve(self, spec: str) -> str:
        """``name@version`` for any spec; other services use it to key their records."""
        return self.get(spec).ref

    def list_models(self, name: str | None = None) -> ModelTable:
        """Every registered version (of ``name``, if given), by name and newest version first."""
        return queries.versions(self.ctx, name)

    def reviews(self, spec: str) -> tuple[Review, ...]:
        """The review requests, approvals and rejections of a version, oldest first."""
        return queries.reviews(self.ctx, spec)

    def alias_history(self, name: str, alias: str | None = None) -> AliasHistory:
        """Every move of ``name``'s aliases (or of one alias): who, when, from, to, approved by."""
        return queries.alias_history(self.ctx, name, alias)

    # -- loading --------------------------------------------------------------------------------
    def load_model(self, spec: str) -> Any:
        """Load a version after re-hashing every artifact file against its signed ``model.log`` event.

        The hashes come from the audit-chained event (proven against its signed checkpoint), not
        from the mutable registry row (:mod:`jupyter_mlops.registry.provenance`).

        Raises
        ------
        IntegrityError
            A file changed, appeared or disappeared since logging (the message names it), the
            registry record or its audit event was altered, or MLflow's alias points at another version.
        PermissionDenied
            A pickle-family model while ``[models] allow_pickle`` is not true.
        """
        from ..tracking import models as mlf

        mv = self.get(spec)
        if sha256_json(mv.manifest) != mv.manifest_sha256:
            raise IntegrityError(
                f"the registry record of {mv.ref} was altered: its manifest does not match its hash",
                value=mv.ref,
                hint="compare with the model.log audit event (`jupyter-mlops audit verify`)",
            )
        vs = parse_version_spec(spec, default_alias="latest", kind="model version")
        if vs.alias and vs.alias != "latest":
            in_mlflow = mlf.get_alias(self.ctx.tracking, mv.name, vs.alias)
            if in_mlflow != mv.version:
                raise IntegrityError(
                    f"MLflow points {mv.name}@{vs.alias} at version {in_mlflow}, the registry at version {mv.version}",
                    value=str(spec),
                    hint="the alias was moved outside jupyter-mlops; move it back with "
                    f"`jupyter-mlops model promote {mv.ref} --alias {vs.alias}`",
                )
        manifest, serialization, trusted = recorded_artifacts(self.ctx, mv)  # the signed chain's record, not the row
        with mlf.fetch_verified(self.ctx.tracking, mv.artifact_uri, manifest, ref=mv.ref) as folder:
            model = mlf.load_verified(folder, serialization=serialization, trusted_types=trusted, ref=mv.ref)
        _remember(self.ctx, model, mv.ref, mlf.model_sha256(model))  # evaluate(model) then knows its version
        return model

    # -- review (rules in registry/review.py) ------------------------------------------------------
    def request_review(self, spec: str, note: str = "") -> Review:
        """Submit a version for review; it needs a completed evaluation and a model card."""
        return _review.request_review(self.ctx, spec, note, evaluation_of=self.evaluation_of, card_of=self.card_of)

    def approve(self, spec: str, comment: str = "") -> Review:
        """Approve a pending version (a reviewer who is not its author)."""
        return _review.decide(self.ctx, spec, comment, approve=True)

    def reject(self, spec: str, comment: str = "") -> Review:
        """Reject a pending version (a reviewer who is not its author)."""
        return _review.decide(self.ctx, spec, comment, approve=False)

    def promote(self, spec: str, alias: str | None = None) -> AliasMove:
        """Point ``alias`` (default: the serving alias) at a version; every serving alias needs approval.

        Aliases are case-insensitive (stored and set in lower case); the serving aliases are
        ``[review] serving_aliases`` (``champion``, ``production``, ``prod``, ``live`` by default).
        """
        return _review.promote(self.ctx, spec, alias, gate=self.promotion_gate)

    def check_aliases(self) -> AliasCheck:
        """Aliases not in lower case in MLflow or the alias history (``jupyter-mlops model check-aliases``)."""
        return _review.check_aliases(self.ctx)
