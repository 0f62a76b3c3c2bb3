"""Serving in a workspace: approved versions behind a gateway, canaries, the stop switch, packaging.

``ServingService(ws)`` is the one implementation behind ``jupyter-mlops serve | deploy | package
| trace | monitor`` and the monitoring dashboard. What it needs from the workspace is small and
explicit, a :class:`~.context.ServingContext`: ``models`` (get, reviews, load_model), ``data``
(get, load), ``cards`` and ``evaluation`` (latest_for), ``tracking`` (the verified artifact copy),
``read``/``transaction``/``record``/``link`` (every change audited and lineage-linked), ``actor``
and ``settings.home``.

Each model a deployment names is checked by :func:`~.gate.require_servable`, loaded once through
the registry's verified path, and written as a bundle (model file + ``model.json`` with its
SHA-256) under ``.mlops/serving/<deployment>/models/``; the gateway loads only bundles, so its
request path never imports MLflow.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.paths import validate_file, validate_name
from ..errors import Conflict, InvalidInput, MlopsError
from .control import WorkspaceControl
from .gate import require_servable
from .runtime.bundle import BUNDLE_FORMAT, bundle_dir, file_sha256
from .runtime.control import State, initial_state
from .runtime.spec import DeploymentSpec, Variant, load_spec, parse_spec

if TYPE_CHECKING:
    from ..registry.entities import ModelVersion
    from .context import ServingContext
    from .entities import DeploymentStatus, MonitorReport, Trace

__all__ = ["ServingService"]

_MODEL_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}


class ServingService:
    """Deployments of one workspace."""

    def __init__(self, ctx: ServingContext) -> None:
        self.ctx = ctx

    # -- where things live ---------------------------------------------------------------------
    def home(self, name: str) -> Path:
        """``.mlops/serving/<name>/``: bundles, the admin token, the prediction log."""
        return self.ctx.settings.home / "serving" / validate_name(name, kind="deployment name")

    def log_dirs(self, name: str | None = None) -> list[Path]:
        """The prediction log folders of one deployment, or of all."""
        root = self.ctx.settings.home / "serving"
        if name is not None:
            return [self.home(name) / "log"]
        return sorted(p / "log" for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def control(self, name: str) -> WorkspaceControl:
        return WorkspaceControl(self.ctx, validate_name(name, kind="deployment name"))

    # -- resolving -----------------------------------------------------------------------------
    def resolve(
        self, models: Sequence[str] = (), *, config: str | Path | None = None, name: str | None = None, action: str = "serve"
    ) -> tuple[DeploymentSpec, dict[str, ModelVersion]]:
        """The deployment with every model checked by the gate and pinned to ``name@version``.

        ``models`` alone (``serve A B``) is an A/B test with equal weights; ``config`` is a
        ``deployment.yaml``. Specs are resolved once: an alias moving later does not change a
        running deployment (``deploy`` does).
        """
        if config is not None:
            spec = load_spec(validate_file(config))
            if models:
                raise InvalidInput("give model specs or --config, not both", field="models")
        elif models:
            weights = _equal_weights(len(models))
            spec = parse_spec(
                {
                    "name": name or str(models[0]).partition("@")[0],
                    "variants": [{"model": m, "weight": w} for m, w in zip(models, weights, strict=True)],
                },
                source="the command line",
            )
        else:
            raise InvalidInput(
                "name at least one model version to serve",
                hint="e.g. jupyter-mlops serve arrests-clf@champion; `serve --name NAME` restarts a recorded deployment",
                field="models",
            )
        if name is not None:
            spec = spec.replace(name=validate_name(name, kind="deployment name"))
        versions: dict[str, ModelVersion] = {}
        resolved: dict[str, str] = {}
        for model in spec.models:
            mv = require_servable(self.ctx, model, action=action)
            versions[mv.ref] = mv
            resolved[model] = mv.ref
        if len(set(resolved.values())) != len(resolved):
            raise InvalidInput("two specs of the deployment name the same model version", value=sorted(resolved), field="models")

        def pin(v: Variant) -> Variant:
            ref = resolved[v.model]
            return Variant(model=ref, weight=v.weight, role=v.role, bundle=bundle_dir(ref), alias=_alias_of(v.model, ref))

        sensitive = set(spec.sensitive)
        for mv in versions.values():
            sensitive |= set(self.sensitive_columns(mv))
        spec = spec.replace(
            variants=tuple(pin(v) for v in spec.variants),
            shadow=tuple(pin(v) for v in spec.shadow),
            sensitive=tuple(sorted(sensitive)),
        )
        return spec, versions

    def sensitive_columns(self, mv: ModelVersion) -> list[str]:
        """Columns declared sensitive on the version's training data versions."""
        out: list[str] = []
        for dv in mv.data_versions:
            out.extend(self.ctx.data.get(dv).sensitive)
        return sorted(set(out))

    def write_bundle(self, mv: ModelVersion, root: Path) -> Path:
        """The version's verified model file and ``model.json`` in ``root/models/<name>-v<version>/``."""
        from ..tracking.models import fetch_verified

        self.ctx.models.load_model(mv.ref)  # every registry check: manifest hash, artifact hashes, trusted types
        target = root / bundle_dir(mv.ref)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, mode=0o700)
        model_file = _MODEL_FILES[mv.serialization]
        with fetch_verified(self.ctx.tracking, mv.artifact_uri, mv.manifest, ref=mv.ref) as folder:
            shutil.copyfile(folder / model_file, tmp / model_file)
        digest, size = file_sha256(tmp / model_file)
        if digest != mv.manifest[model_file]["sha256"]:  # the copy must be the bytes the registry hashed
            raise Conflict(f"{mv.ref}: {model_file} changed while it was copied", value=mv.ref)
        approver = next((r.actor for r in reversed(self.ctx.models.reviews(mv.ref)) if r.action == "approve"), None)
        meta = {
            "format": BUNDLE_FORMAT,
            "ref": mv.ref,
            "name": mv.name,
            "version": mv.version,
            "model_type": mv.model_type,
            "serialization": mv.serialization,
            "trusted_types": list(mv.trusted_types),
            "signature": mv.signature,
            "sensitive": self.sensitive_columns(mv),
            "files": {model_file: {"sha256": digest, "size": size}},
            "registry_manifest_sha256": mv.manifest_sha256,
            "run_id": mv.run_id,
            "data_versions": list(mv.data_versions),
            "code_sha256": mv.code_sha256,
            "approved_by": approver,
        }
        (tmp / "model.json").write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return target

    # -- deployments ---------------------------------------------------------------------------
    def prepare(self, models: Sequence[str] = (), *, config: str | Path | None = None, name: str | None = None) -> DeploymentSpec:
        """Gate, pin and bundle a deployment and record it (created, or updated with before/after).

        With ``name`` alone, the recorded deployment is prepared as it is (its canary, weights
        and stop switch included): every version in it passes the gate again and its bundle is
        written again from the registry, and nothing is recorded. That is how a gateway that died
        (kill -9, a reboot) is restarted without losing a canary in progress. A deployment whose
        stop switch is on stays stopped: restarting a gateway never turns predictions back on by
        itself.
        """
        if not models and config is None and name is not None:
            return self._prepare_recorded(name)
        spec, versions = self.resolve(models, config=config, name=name)
        home = self.home(spec.name)
        for mv in versions.values():
            self.write_bundle(mv, home)
        control = self.control(spec.name)
        if not control.exists():
            control.create(initial_state(spec), payload={"models": sorted(versions)})
        elif control.load()["spec"] != spec.to_dict():
            control.update(
                "deployment.update",
                lambda s: {**s, "spec": spec.to_dict(), "canary": {"failures": 0, "windows": 0}},
                {"models": sorted(versions)},
            )
        return spec

    def _prepare_recorded(self, name: str) -> DeploymentSpec:
        state = self.control(name).load()
        spec = parse_spec(state["spec"], source=f"deployment {name!r}")
        home = self.home(spec.name)
        for ref in spec.models:
            self.write_bundle(require_servable(self.ctx, ref, action="serve"), home)
        return spec

    def gateway(self, name: str, *, admin_token: str | None = None, invoke_token: str | None = None) -> Any:
        """A :class:`~.runtime.app.Gateway` over the recorded deployment ``name``.

        It computes no drift: :meth:`watch` does, in a process of its own.
        """
        from .runtime import read_or_create_token
        from .runtime.app import Gateway

        home = self.home(name)
        token = admin_token or read_or_create_token(home / "admin-token")
        return Gateway(root=home, control=self.control(name), log_dir=home / "log", admin_token=token, invoke_token=invoke_token)

    def serve(
        self,
        models: Sequence[str] = (),
        *,
        config: str | Path | None = None,
        name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8080,
        invoke_token: str | None = None,
    ) -> None:
        """Prepare the deployment and run its gateway on ``host:port`` until interrupted.

        The gateway computes no drift; ``jupyter-mlops serve`` starts :meth:`watch` next to it in
        a process of its own (run ``jupyter-mlops monitor NAME --watch 60s`` beside this call).
        """
        from .runtime import check_address

        check_address(host, port)
        spec = self.prepare(models, config=config, name=name)
        self.run_gateway(spec.name, host=host, port=port, invoke_token=invoke_token)

    def run_gateway(self, name: str, *, host: str = "127.0.0.1", port: int = 8080, invoke_token: str | None = None) -> None:
        """Run the gateway of the recorded deployment ``name`` until SIGINT/SIGTERM (start and end are audited)."""
        from .runtime import check_address, run
        from .runtime.app import create_app

        check_address(host, port)
        gateway = self.gateway(name, invoke_token=invoke_token)
        gateway.control.event("serving.start", {"host": host, "port": port, "models": list(gateway.spec.models)})
        try:
            run(create_app(gateway), host, port)
        finally:
            gateway.control.event("serving.end", {"host": host, "port": port, "logged": gateway.log.written})

    def deploy(self, spec: str, *, canary: int = 10, name: str | None = None) -> State:
        """Start a canary: ``spec`` gets ``canary`` percent of the traffic of deployment ``name``.

        The gateway's analysis then steps it up or rolls it back on its own (see
        :mod:`~.runtime.analysis`).
        """
        if isinstance(canary, bool) or not isinstance(canary, int) or not 1 <= canary <= 99:
            raise InvalidInput(f"--canary must be a percentage from 1 to 99, got {canary!r}", value=canary, field="canary")
        mv = require_servable(self.ctx, spec, action="deploy")
        name = name or mv.name
        control = self.control(name)
        state = control.load()
        variants = state["spec"]["variants"]
        if any(v.get("role") == "canary" for v in variants):
            current = next(v["model"] for v in variants if v.get("role") == "canary")
            raise Conflict(
                f"deployment {name!r} already runs canary {current}", value=current, hint="wait for its promotion or rollback"
            )
        if any(v["model"] == mv.ref for v in (*variants, *state["spec"].get("shadow", []))):
            raise Conflict(f"{mv.ref} already serves in deployment {name!r}", value=mv.ref)
        self.write_bundle(mv, self.home(name))
        from .runtime.changes import _share

        def change(s: State) -> State:
            stable = [v for v in s["spec"]["variants"] if v.get("role") != "canary"]
            _share(stable, 100 - canary)
            variant = Variant(mv.ref, canary, "canary", bundle_dir(mv.ref), _alias_of(spec, mv.ref)).to_dict()
            s["spec"]["variants"] = [*stable, variant]
            s["spec"]["sensitive"] = sorted(set(s["spec"].get("sensitive") or []) | set(self.sensitive_columns(mv)))
            s["canary"] = {"failures": 0, "windows": 0}
            return s

        parse_spec(change(json.loads(json.dumps(state)))["spec"], source="the new deployment")
        return control.update(
            "deployment.canary_start", change, {"canary": mv.ref, "weight": canary, "analysis": state["spec"]["analysis"]}
        )

    def admin(self, name: str, action: str, body: dict[str, Any] | None = None) -> State:
        """``stop``, ``resume``, ``weights``, ``disable`` or ``enable``, from the CLI: recorded, picked up by the gateway."""
        from .runtime.changes import admin_change

        control = self.control(name)
        change, audit, payload = admin_change(action, dict(body or {}), control.load(), actor=self.ctx.actor)
        return control.update(audit, change, {**payload, "via": "cli"})

    def stop(self, name: str, reason: str = "") -> State:
        """The stop switch: the gateway answers every prediction with 503 within about a second."""
        return self.admin(name, "stop", {"reason": reason})

    def resume(self, name: str) -> State:
        """Turn predictions on again after :meth:`stop`."""
        return self.admin(name, "resume")

    def status(self, name: str) -> DeploymentStatus:
        """The deployment's state and its recorded changes."""
        from .entities import DeploymentStatus

        control = self.control(name)
        return DeploymentStatus(name=name, state=control.load(), changes=tuple(control.changes()))

    # -- evidence ------------------------------------------------------------------------------
    def trace(self, request_id: str) -> Trace:
        """From a logged prediction back to its model version, review, run, notebook cell and data."""
        from .trace import trace

        return trace(self, request_id)

    def monitor(self, name: str, *, last: int = 1000, record_alerts: bool = False) -> MonitorReport:
        """Traffic, errors, latency, split, drift against the training data and labelled accuracy."""
        from .monitor import monitor

        return monitor(self, name, last=last, record_alerts=record_alerts)

    def watch(
        self,
        name: str,
        *,
        every: float = 60.0,
        last: int = 1000,
        wait_first: bool = False,
        stop: Callable[[], bool] | None = None,
        on_error: Callable[[MlopsError], None] | None = None,
    ) -> Iterator[MonitorReport]:
        """A monitoring report of deployment ``name`` every ``every`` seconds, drift alerts recorded.

        This is the monitoring job (``jupyter-mlops monitor NAME --watch 60s``; ``jupyter-mlops
        serve`` runs one next to its gateway). It reads only what was logged since its last
        report and loads the training data once, so a report costs the same after a day as after
        a minute. It ends when ``stop()`` returns true (checked every second). A report that
        fails (a locked database, say) goes to ``on_error`` and the job carries on; without
        ``on_error`` it raises.
        """
        import time

        from .monitor import Monitor

        if isinstance(every, bool) or not isinstance(every, (int, float)) or not 0.1 <= every <= 86_400:
            raise InvalidInput(f"the watch interval must be from 0.1 s to 24 h, got {every!r}", value=every, field="every")
        self.control(name).load()  # NotFound now, not after the first interval
        mon = Monitor(self, name, last=last)
        due = time.monotonic() + (every if wait_first else 0.0)
        if wait_first:
            mon.prime()
        while True:
            while (left := due - time.monotonic()) > 0:
                if stop is not None and stop():
                    return
                time.sleep(min(1.0, left))
            if stop is not None and stop():
                return
            due = max(due + every, time.monotonic())
            try:
                report = mon.report(record_alerts=True)
            except MlopsError as err:
                if on_error is None:
                    raise
                on_error(err)
                continue
            yield report

    def package(
        self,
        models: Sequence[str] = (),
        *,
        out: str | Path,
        config: str | Path | None = None,
        canary: int = 10,
        tar: bool = False,
    ) -> Any:
        """Write a deterministic container build context (see :mod:`~.package`)."""
        from .package import package

        return package(self, models, out=Path(out), config=config, canary=canary, tar=tar)


def _alias_of(spec: str, ref: str) -> str | None:
    """``champion`` for ``arrests-clf@champion``; ``None`` for a version number or no ``@``."""
    _, at, tail = spec.partition("@")
    return tail if at and spec != ref and not tail.isdigit() else None


def _equal_weights(n: int) -> list[int]:
    base = 100 // n
    return [base + (1 if i < 100 - base * n else 0) for i in range(n)]
