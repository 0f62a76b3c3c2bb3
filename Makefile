# Two commands do all set-up on a fresh machine:
#   make demo   - creates .venv, installs, runs the example pipeline on an embedded workspace
#   make test   - creates .venv, installs, runs lint, types, layer contracts and the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SOURCES := pyproject.toml $(shell find jupyter_mlops -name '*.py' -not -path '*/labextension/*' 2>/dev/null) \
           $(shell find labextension/src labextension/style -type f 2>/dev/null) $(wildcard labextension/package.json)

.PHONY: demo test lint install clean

$(STAMP): $(SOURCES)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q hatchling hatch-jupyter-builder editables "jupyterlab>=4.6,<5"
	. $(VENV)/bin/activate && $(PY) -m pip install -q --no-build-isolation ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	. $(VENV)/bin/activate && $(PY) example_notebooks/run_demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check jupyter_mlops tests benchmarks example_notebooks/run_demo.py
	$(VENV)/bin/ruff format --check jupyter_mlops tests benchmarks example_notebooks/run_demo.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The real-browser tests run in their own pytest process: Playwright's sync API keeps an event
# loop running in the main thread, which pytest-jupyter's autouse loop fixture would then
# try to close in every later test.
test: lint
	. $(VENV)/bin/activate && $(PY) -m pytest -q -p no:cacheprovider -m "not browser"
	. $(VENV)/bin/activate && $(PY) -m pytest -q -p no:cacheprovider -m browser

clean:
	rm -rf $(VENV) demo-workspace build dist
