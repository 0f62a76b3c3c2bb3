"""Roles that deny by default: the documented matrix, and the real choke points refusing and auditing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.errors import PermissionDenied
from jupyter_mlops.governance.access import ACTIONS, ROLES, matrix

DOCS = Path(__file__).resolve().parents[1] / "docs" / "access.md"

ROLES_TOML = """
[access]
mode = "enforce"

[access.roles]
viewer = ["victor"]
researcher = ["rita"]
reviewer = ["bob"]
data_steward = ["dana"]
auditor = ["ada"]
admin = ["root"]
"""


def _documented() -> dict[str, dict[str, bool]]:
    rows = [line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")][1:]
    table: dict[str, dict[str, bool]] = {role: {} for role in header}
    for line in rows[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        action = cells[0].strip("`")
        for role, cell in zip(header, cells[1:], strict=True):
            table[role][action] = {"yes": True, "no": False}[cell]
    return table


def test_the_role_matrix_has_no_mismatch_with_the_docs() -> None:
    documented, actual = _documented(), matrix()
    assert sorted(documented) == sorted(ROLES)
    cells = [(role, action) for role in ROLES for action in ACTIONS]
    mismatches = [(r, a) for r, a in cells if documented[r].get(a) != actual[r][a]]
    assert len(cells) == 6 * 19 and mismatches == []
    assert not any(actual[role][a] for role in ROLES for a in ("audit.edit", "audit.delete"))


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roles") / "project"
    ws = mlops.init(root, user="root")
    with open(ws.settings.home / "config.toml", "a", encoding="utf-8") as fh:
        fh.write(ROLES_TOML)
    return root


def _as(root: Path, user: str) -> mlops.Workspace:
    return mlops.Workspace.open(root, user=user)


def _denials(root: Path) -> list[tuple[str, str]]:
    return [(e.actor, e.object_id) for e in _as(root, "ada").audit_events(action="access.denied", limit=1000)]


def test_every_role_at_the_audit_choke_point(enforced: Path) -> None:
    """Each role x action through ``record`` (what every mutation calls): granted ones write, others refuse."""
    expected = matrix()
    for role, user in (("viewer", "victor"), ("researcher", "rita"), ("reviewer", "bob"), ("admin", "root")):
        ws = _as(enforced, user)
        for action in ("run.start", "data.version", "model.approve", "audit.export", "audit.edit", "workspace.init"):
            head = _as(enforced, "ada").verify_audit().head_seq
            try:
                with ws.transaction() as conn:
                    ws.record(conn, action, "thing", "x")
                done = True
            except PermissionDenied as err:
                done = False
                assert f"{user} may not {action}" in err.message
            assert done == expected[role][action], (role, action)
            after = _as(enforced, "ada").audit_events(limit=1)[0]
            assert after.seq == (head or 0) + 1  # the event, or the audited refusal, never both or neither
            assert after.action == (action if done else "access.denied")
    assert _as(enforced, "ada").verify_audit().ok


def test_no_role_can_do_nothing_and_real_calls_are_refused_and_audited(enforced: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(PermissionDenied, match="mallory may not read"):
        _as(enforced, "mallory").list_runs()
    with pytest.raises(PermissionDenied, match="victor may not data.version"):
        _as(enforced, "victor").data.version(frame, "numbers")
    assert _as(enforced, "rita").data.version(frame, "numbers").spec.startswith("numbers@")
    denied = _denials(enforced)
    assert ("mallory", "read") in denied and ("victor", "data.version") in denied
    with pytest.raises(PermissionDenied, match="no role may do this"):
        _as(enforced, "root").authorize("audit.edit", "audit")
