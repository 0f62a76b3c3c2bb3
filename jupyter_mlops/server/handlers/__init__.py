"""REST handlers of ``/jupyter-mlops/api/v1``, one module per resource, and the route table.

Each handler only parses, calls the capability's query or service as the Jupyter-authenticated
user, and returns JSON: runs (:mod:`.runs`), data (:mod:`.data`), models and cards
(:mod:`.models`), reviews (:mod:`.reviews`), lineage and audit (:mod:`.audit`), pipelines
(:mod:`.pipelines`), status and the OpenAPI document (:mod:`.meta`). Every verb is
``@tornado.web.authenticated`` and ``@authorized`` against a ``jupyter_mlops:<area>`` resource; each
module's ``ROUTES`` declares that permission for its routes, and the route inventory test holds
the two together.
"""

from __future__ import annotations

from ..routes import Route
from . import audit, data, meta, models, pipelines, reviews, runs

__all__ = ["ROUTES"]

#: Every route the server registers, in matching order.
ROUTES: tuple[Route, ...] = (
    *meta.ROUTES,
    *runs.ROUTES,
    *data.ROUTES,
    *models.ROUTES,
    *reviews.ROUTES,
    *audit.ROUTES,
    *pipelines.ROUTES,
)
