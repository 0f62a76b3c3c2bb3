"""Governance: roles that deny by default, compliance checks against a written policy, the compliance gate.

``mlops.check_compliance("model@3", policy="policy.yaml")`` (in :mod:`jupyter_mlops.fluent`)
works on the current workspace.
"""

from __future__ import annotations

__all__: list[str] = []
