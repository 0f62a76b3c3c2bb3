"""The MLflow model registry operations: register a version, delete it, and set, read or drop its aliases.

The registry capability (:mod:`jupyter_mlops.registry`) decides whether a move may happen; these
functions only make it in MLflow, each MLflow error wrapped as :class:`~jupyter_mlops.errors.TrackingError`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .mlflow_backend import as_mlflow
from .mlflow_store import _wrap

if TYPE_CHECKING:
    from ..core.context import TrackingBackend

__all__ = ["LoggedModel", "delete_alias", "delete_version", "get_alias", "list_aliases", "register_version", "set_alias"]


@dataclass(frozen=True)
class LoggedModel:
    """Where MLflow put a logged model."""

    model_uri: str
    model_id: str
    artifact_uri: str
    signature: dict[str, Any] | None


def register_version(backend: TrackingBackend, name: str, logged: LoggedModel, *, run_id: str) -> int:
    """Register ``logged`` as a new version of registered model ``name`` (created on first use)."""
    with _wrap(f"register a version of {name!r}", as_mlflow(backend).tracking_uri):
        from mlflow.exceptions import MlflowException

        client = as_mlflow(backend).client
        try:
            client.get_registered_model(name)
        except MlflowException:
            with contextlib.suppress(MlflowException):  # created concurrently
                client.create_registered_model(name)
        mv = client.create_model_version(
            name, logged.model_uri, run_id=as_mlflow(backend).mlflow_run_id(run_id), model_id=logged.model_id
        )
        return int(mv.version)


def delete_version(backend: TrackingBackend, name: str, version: int) -> None:
    """Remove a model version from the MLflow registry (used to roll back a failed logging)."""
    with _wrap(f"delete version {version} of {name!r}", as_mlflow(backend).tracking_uri):
        as_mlflow(backend).client.delete_model_version(name, str(version))


def set_alias(backend: TrackingBackend, name: str, alias: str, version: int) -> None:
    """Point MLflow's alias ``alias`` of ``name`` at ``version``."""
    with _wrap(f"set alias {alias!r} of {name!r}", as_mlflow(backend).tracking_uri):
        as_mlflow(backend).client.set_registered_model_alias(name, alias, str(version))


def delete_alias(backend: TrackingBackend, name: str, alias: str) -> None:
    """Remove MLflow's alias ``alias`` of ``name`` (no error when it is absent)."""
    with _wrap(f"delete alias {alias!r} of {name!r}", as_mlflow(backend).tracking_uri):
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            as_mlflow(backend).client.delete_registered_model_alias(name, alias)


def get_alias(backend: TrackingBackend, name: str, alias: str) -> int | None:
    """The version MLflow's alias points at, or ``None``."""
    with _wrap(f"read alias {alias!r} of {name!r}", as_mlflow(backend).tracking_uri):
        from mlflow.exceptions import MlflowException

        try:
            return int(as_mlflow(backend).client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None


def list_aliases(backend: TrackingBackend) -> list[tuple[str, str, int]]:
    """``(model, alias, version)`` for every alias of every registered model in MLflow."""
    with _wrap("list registered model aliases", as_mlflow(backend).tracking_uri):
        out: list[tuple[str, str, int]] = []
        token = None
        while True:
            page = as_mlflow(backend).client.search_registered_models(max_results=1000, page_token=token)
            for rm in page:
                aliases = rm.aliases or {}
                items = aliases.items() if isinstance(aliases, dict) else ((a.alias, a.version) for a in aliases)
                out.extend((str(rm.name), str(a), int(v)) for a, v in items)
            token = getattr(page, "token", None)
            if not token:
                return out
