"""Aliases are case-insensitive and every serving alias is guarded: CHAMPION cannot dodge the rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.core.paths import parse_version_spec
from jupyter_mlops.errors import NotFound, ReviewRuleViolation


def _iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=300).fit(X, y), X, y


@pytest.fixture
def registry(ws: mlops.Workspace) -> mlops.Workspace:
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text().replace("reviewers = []", 'reviewers = ["bob"]'))
    ws = mlops.use(mlops.Workspace.open(ws.settings.root, user="alice"))
    model, X, _ = _iris()
    ws.models.log_model(model, "iris", X_example=X)
    ws.models.log_model(model, "iris", X_example=X)
    return ws


def test_specs_lower_case_their_alias() -> None:
    assert parse_version_spec("m@CHAMPION").alias == "champion"
    assert parse_version_spec("m@Prod").alias == "prod"
    assert parse_version_spec("m@latest").alias == "latest"


@pytest.mark.parametrize("alias", ["CHAMPION", "Champion", "champion", "PRODUCTION", "Prod", "LIVE", "live"])
def test_every_serving_alias_in_any_case_needs_an_approval(registry: mlops.Workspace, alias: str) -> None:
    head = registry.verify_audit().head_seq
    with pytest.raises(ReviewRuleViolation, match="cannot take the serving alias"):
        registry.models.promote("iris@1", alias=alias)
    assert registry.verify_audit().head_seq == head
    from jupyter_mlops.tracking import models as mlf

    assert mlf.list_aliases(registry.tracking) == []  # nothing reached MLflow


def test_aliases_are_stored_and_resolved_in_lower_case(registry: mlops.Workspace) -> None:
    move = registry.models.promote("iris@1", alias="Staging")
    assert move.alias == "staging"
    assert int(registry.tracking.client.get_model_version_by_alias("iris", "staging").version) == 1
    from jupyter_mlops.tracking import models as mlf

    assert mlf.list_aliases(registry.tracking) == [("iris", "staging", 1)]
    assert registry.models.get("iris@STAGING").version == 1
    assert [m.alias for m in registry.models.alias_history("iris", alias="STAGING").moves] == ["staging"]
    assert registry.models.load_model("iris@Staging") is not None
    # the approved path still works, in any case
    bob = registry.as_user("bob")
    _, X, y = _iris()
    registry.evaluation.evaluate("iris@2", X, y, n_bootstrap=10, plots=False)
    registry.cards.build_card("iris@2")
    registry.models.request_review("iris@2")
    bob.models.approve("iris@2")
    assert registry.models.promote("iris@2", alias="PRODUCTION").alias == "production"
    assert registry.models.get("iris@Production").version == 2


def test_check_reports_mixed_case_aliases_and_load_never_returns_them(
    registry: mlops.Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.registry.schema import model_alias_history

    assert registry.models.check_aliases().ok
    # What an older release (or a direct MLflow call) left: mixed-case aliases on an unapproved version.
    registry.tracking.client.set_registered_model_alias("iris", "CHAMPION", "1")
    with registry.db._write() as conn:
        conn.execute(
            sa.insert(model_alias_history).values(
                name="iris", alias="Champion", from_version=None, to_version=1, actor="old", ts="2024-01-01T00:00:00", audit_seq=1
            )
        )
    check = registry.models.check_aliases()
    found = {(f["alias"], f["where"], f["serving"]) for f in check.findings}
    assert found == {("CHAMPION", "MLflow", True), ("Champion", "alias history", True)}
    assert check.exit_code == 7
    with pytest.raises(NotFound, match="has no alias 'champion'"):
        registry.models.load_model("iris@CHAMPION")  # never the unapproved version behind the mixed-case alias
    monkeypatch.chdir(registry.settings.root)
    assert main(["model", "check-aliases"]) == 7
    out = capsys.readouterr().out
    assert "iris@CHAMPION -> version 1 in MLflow" in out and "dodge the approval rule" in out and "fix:" in out
    assert main(["--json", "model", "check-aliases"]) == 7
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 2
    assert main(["model", "promote", "iris@1", "--alias", "CHAMPION"]) == 5
    assert "cannot take the serving alias 'champion'" in capsys.readouterr().err


def test_configured_serving_aliases_are_guarded(ws: mlops.Workspace) -> None:
    config = ws.settings.home / "config.toml"
    text = config.read_text().replace(
        'serving_aliases = ["champion", "production", "prod", "live"]', 'serving_aliases = ["Gold"]'
    )
    config.write_text(text)
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    assert ws.settings.serving_aliases == ("gold", "champion")
    model, X, _ = _iris()
    ws.models.log_model(model, "iris", X_example=X)
    with pytest.raises(ReviewRuleViolation):
        ws.models.promote("iris@1", alias="GOLD")
    assert ws.models.promote("iris@1", alias="production").alias == "production"  # not guarded here
