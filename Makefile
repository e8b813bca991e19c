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

# Three of the five seed articles keep a fresh-clone demo, install included,
# under 10 minutes on a slow 2-core VM (70-140 s per article; BENCHMARKS.md, item 6).
# All five: make demo DEMO_INPUTS=seeds/
DEMO_INPUTS ?= seeds/000_f48d134cfef3c9e7.txt seeds/003_3a96dd3a79ee5c82.txt seeds/004_e6ab56d9d89493b2.txt

demo: setup
	rm -rf runs/demo
	$(BIN)/extractor extract $(DEMO_INPUTS) -o runs/demo
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
