"""The public surface: every name in __all__ resolves, is documented, and import stays light."""

from __future__ import annotations

import subprocess
import sys

import jupyter_mlops as mlops


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in mlops.__all__:
        value = getattr(mlops, name)
        if callable(value) and not name.startswith("_"):
            assert value.__doc__, f"{name} has no docstring"


def test_import_is_light() -> None:
    code = (
        "import sys, jupyter_mlops; print([m for m in ('mlflow','pandas','sqlalchemy','IPython','sklearn') if m in sys.modules])"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_errors_pickle_with_their_fields() -> None:
    import pickle

    err = mlops.NotFound("no such run", value="abc", hint="list runs", field="run_id")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is mlops.NotFound
    assert (again.message, again.value, again.hint, again.field) == ("no such run", "abc", "list runs", "run_id")
    assert again.to_dict() == {"error": "NotFound", "message": "no such run", "hint": "list runs", "field": "run_id"}
