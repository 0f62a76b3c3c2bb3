"""``jupyter-mlops package SPEC --out DIR``: a container build context that serves on its own.

The context holds everything a gateway needs and nothing of the workspace::

    Dockerfile            slim Python base, pinned and hash-checked install, non-root USER, HEALTHCHECK
    .dockerignore
    requirements.txt      the serving runtime's distributions and their dependencies, ==-pinned to the
                          versions this workspace runs, with --hash lines from pip's install report
    serving.yaml          the resolved deployment (concrete versions, bundle folders)
    models/<name>-v<N>/   each bundle: the model file and model.json with its sha256
    card.html             the model card (and compliance.html once compliance reports exist)
    jupyter_mlops/        the serving runtime (serving/runtime/, errors.py, core/paths.py)
    k8s/                  a Deployment and a Service, and a KServe InferenceService with canaryTrafficPercent
    MANIFEST.sha256       the sha256 of every other file

Packaging the same version twice writes the same bytes: files are written in sorted order with
fixed content (no timestamps, no absolute paths), and ``--tar`` writes a tarball with sorted
entries, mtime 0, uid/gid 0 and a gzip header without a time. Nothing is downloaded when the
image builds except the pinned wheels from the package index.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core.entities import Entity
from ..errors import InvalidInput
from .runtime import RUNTIME_MODULES
from .runtime.bundle import file_sha256

if TYPE_CHECKING:
    from .service import ServingService

__all__ = ["RUNTIME_DISTRIBUTIONS", "BuildContext", "package", "pinned_requirements"]

#: What the serving runtime imports; their dependencies are added by :func:`pinned_requirements`.
RUNTIME_DISTRIBUTIONS = (
    "starlette",
    "uvicorn",
    "prometheus-client",
    "pandas",
    "numpy",
    "scikit-learn",
    "scipy",
    "skops",
    "pyyaml",
)
_PORT = 8080
_UID = 10001


@dataclasses.dataclass(frozen=True)
class BuildContext(Entity):
    """What ``package`` wrote: the folder, the files with their sha256, the tarball if asked."""

    out: str
    deployment: str
    models: tuple[str, ...]
    files: dict[str, str]
    hashed_requirements: bool
    tarball: str | None = None
    tarball_sha256: str | None = None

    def __str__(self) -> str:
        tail = f"; {self.tarball} (sha256 {self.tarball_sha256})" if self.tarball else ""
        hashes = "with --hash lines" if self.hashed_requirements else "WITHOUT hashes (the package index was not reachable)"
        return (
            f"wrote {len(self.files)} files for {', '.join(self.models)} to {self.out} "
            f"(requirements {hashes}){tail}\n"
            f"build: docker build -t {self.deployment}:{self.models[0].partition('@')[2]} {self.out}"
        )


def _closure(roots: Sequence[str]) -> dict[str, str]:
    """``{distribution: installed version}`` for ``roots`` and everything they require here."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    stack = [str(r) for r in roots]
    while stack:
        name = str(canonicalize_name(stack.pop()))
        if name in found:
            continue
        dist = md.distribution(name)
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return dict(sorted(found.items()))


def pinned_requirements(roots: Sequence[str] = RUNTIME_DISTRIBUTIONS) -> tuple[str, bool]:
    """The text of ``requirements.txt`` and whether it carries hashes.

    Versions are the ones installed here (what was tested); the hashes are those of the wheels
    pip would install for this platform, read from ``pip install --dry-run --report``.
    """
    pins = _closure(roots)
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-pins-") as tmp:
        req = Path(tmp) / "pins.txt"
        req.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()), encoding="utf-8")
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--only-binary=:all:"]
        cmd += ["--quiet", "--report", str(report), "-r", str(req)]
        try:
            subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
            data = json.loads(report.read_text(encoding="utf-8"))
            from packaging.utils import canonicalize_name

            for item in data.get("install", []):
                digest = (item.get("download_info", {}).get("archive_info", {}).get("hashes") or {}).get("sha256")
                if digest:
                    hashes[str(canonicalize_name(item["metadata"]["name"]))] = digest
        except (OSError, ValueError, subprocess.SubprocessError):
            hashes = {}
    complete = bool(pins) and set(hashes) >= set(pins)
    lines = [
        "# The serving runtime of jupyter-mlops and its dependencies, pinned to the versions that were tested.",
        "# Install with: pip install --no-deps --require-hashes -r requirements.txt"
        if complete
        else "# No hashes: pip could not reach the package index when this was written.",
    ]
    for name, version in pins.items():
        lines.append(f"{name}=={version}" + (f" \\\n    --hash=sha256:{hashes[name]}" if complete else ""))
    return "\n".join(lines) + "\n", complete


def _dockerfile(hashed: bool) -> str:
    check = "--require-hashes " if hashed else ""
    return f"""# syntax=docker/dockerfile:1
# Built by jupyter-mlops package. The only network access at build time is pip reading the
# pinned wheels from the package index.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN python -m pip install --no-deps {check}-r /app/requirements.txt
RUN useradd --system --uid {_UID} --no-create-home --home-dir /app --shell /usr/sbin/nologin mlops \\
 && mkdir -p /app/state /app/log && chown {_UID} /app/state /app/log
COPY jupyter_mlops /app/jupyter_mlops
COPY models /app/models
COPY serving.yaml MANIFEST.sha256 /app/
USER {_UID}
EXPOSE {_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\
  CMD ["python", "-c", "import sys, urllib.request; \\
sys.exit(urllib.request.urlopen('http://127.0.0.1:{_PORT}/health', timeout=2).status != 200)"]
CMD ["python", "-m", "jupyter_mlops.serving.runtime", "--config", "/app/serving.yaml", "--host", "0.0.0.0", \\
     "--port", "{_PORT}", "--state-dir", "/app/state", "--log-dir", "/app/log"]
"""


def _k8s(name: str, image: str, canary: int) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "jupyter-mlops"}
    container = {
        "name": "gateway",
        "image": image,
        "args": [
            "python",
            "-m",
            "jupyter_mlops.serving.runtime",
            "--config",
            "/app/serving.yaml",
            "--host",
            "0.0.0.0",  # noqa: S104 - inside the pod; the Service decides what reaches it
            "--port",
            str(_PORT),
            "--state-dir",
            "/app/state",
            "--log-dir",
            "/app/log",
            "--token-file",
            "/var/run/secrets/mlops/admin-token",
        ],
        "ports": [{"containerPort": _PORT, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": _PORT}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": _PORT}, "periodSeconds": 10},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [
            {"name": "state", "mountPath": "/app/state"},
            {"name": "log", "mountPath": "/app/log"},
            {"name": "admin-token", "mountPath": "/var/run/secrets/mlops", "readOnly": True},
        ],
    }
    volumes = [
        {"name": "state", "persistentVolumeClaim": {"claimName": f"{name}-state"}},
        {"name": "log", "persistentVolumeClaim": {"claimName": f"{name}-log"}},
        {"name": "admin-token", "secret": {"secretName": f"{name}-admin-token"}},
    ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container], "volumes": volumes}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "http", "port": 80, "targetPort": _PORT}]},
    }
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "predictor": {
                "canaryTrafficPercent": canary,
                "containers": [{k: v for k, v in container.items() if k not in ("volumeMounts",)} | {"name": "kserve-container"}],
            }
        },
    }

    def dump(obj: dict[str, Any]) -> str:
        return str(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False))

    return {"k8s/deployment.yaml": dump(deployment), "k8s/service.yaml": dump(service), "k8s/inferenceservice.yaml": dump(isvc)}


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def package(
    svc: ServingService,
    models: Sequence[str],
    *,
    out: Path,
    config: str | Path | None = None,
    canary: int = 10,
    tar: bool = False,
) -> BuildContext:
    """Write the build context (see the module docstring); refuses an unapproved version."""
    if isinstance(canary, bool) or not isinstance(canary, int) or not 0 <= canary <= 100:
        raise InvalidInput(f"--canary must be a percentage from 0 to 100, got {canary!r}", value=canary, field="canary")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(
            f"{out} exists and is not an empty folder", value=str(out), hint="choose a new folder for --out", field="out"
        )
    spec, versions = svc.resolve(models, config=config, action="package")
    from ..cards.render import render_html
    from .gate import compliance_report

    with tempfile.TemporaryDirectory(prefix="mlops-package-") as tmp:
        stage = Path(tmp) / "context"
        stage.mkdir()
        for mv in versions.values():
            svc.write_bundle(mv, stage)
        first = next(iter(versions.values()))
        card = svc.ctx.cards.latest_for(first.ref)
        files: dict[str, bytes] = {}
        if card is not None:
            files["card.html"] = render_html(card, full_document=True).encode("utf-8")
        report = compliance_report(svc.ctx, first)
        if report is not None and hasattr(report, "_repr_html_"):
            files["compliance.html"] = str(report._repr_html_()).encode("utf-8")
        requirements, hashed = pinned_requirements()
        files["requirements.txt"] = requirements.encode("utf-8")
        files["Dockerfile"] = _dockerfile(hashed).encode("utf-8")
        files[".dockerignore"] = b"state/\nlog/\n*.pyc\n__pycache__/\n"
        files["serving.yaml"] = yaml.safe_dump(spec.to_dict(), sort_keys=True).encode("utf-8")
        image = f"{spec.name}:{first.version}"
        files.update({k: v.encode("utf-8") for k, v in _k8s(spec.name, image, canary).items()})
        source = Path(__file__).resolve().parent.parent
        for rel in RUNTIME_MODULES:
            files[f"jupyter_mlops/{rel}"] = (source / rel).read_bytes()
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                files[path.relative_to(stage).as_posix()] = path.read_bytes()
        out.mkdir(parents=True, exist_ok=True)
        for rel in sorted(files):
            _write(out, rel, files[rel])
    digests = {rel: file_sha256(out / rel)[0] for rel in sorted(files)}
    manifest = "".join(f"{digest}  {rel}\n" for rel, digest in digests.items())
    _write(out, "MANIFEST.sha256", manifest.encode("utf-8"))
    digests["MANIFEST.sha256"] = file_sha256(out / "MANIFEST.sha256")[0]
    tarball = tar_sha = None
    if tar:
        tarball = str(out) + ".tar.gz"
        tar_sha = _tar(out, Path(tarball))
    return BuildContext(str(out), spec.name, tuple(versions), dict(sorted(digests.items())), hashed, tarball, tar_sha)


def _tar(folder: Path, target: Path) -> str:
    """A reproducible tarball of ``folder``: sorted entries, fixed times, owners and modes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            info = tarfile.TarInfo(f"context/{path.relative_to(folder).as_posix()}")
            data = path.read_bytes()
            info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
            tf.addfile(info, io.BytesIO(data))
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())
    target.write_bytes(raw.getvalue())
    return file_sha256(target)[0]
