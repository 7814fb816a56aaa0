# The two README commands are `make demo` and `make test`; each builds the environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# On a machine without a local CPU torch wheel, point pip at PyTorch's CPU wheel index:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_PIP_ARGS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
# The default embedding model, distilled from the packaged MiniLM (about a minute, offline).
STATIC_EMBEDDER := models/embedders/minilm-static-256

.PHONY: install models demo test test-quick lint format bench clean postgres postgres-stop

install: $(VENV)/.installed models

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) -c constraints.txt -e '.[dev]'
	touch $@

# Built once: skipped while its metadata.json exists (delete the folder to rebuild).
models: $(STATIC_EMBEDDER)/metadata.json

$(STATIC_EMBEDDER)/metadata.json: | $(VENV)/.installed
	$(BIN)/python -m training.distill --out $(STATIC_EMBEDDER)

# The main job on the shipped synthetic exports, into a demo store under demo-output/ (SQLite).
DEMO_DB := demo-output/store.sqlite3

demo: install
	$(BIN)/nearmiss taxonomy check taxonomies/gp-near-miss/v1.yaml
	$(BIN)/nearmiss ingest data/sample/exports --output demo-output/records.jsonl \
		--quarantine demo-output/quarantine.jsonl
	$(BIN)/nearmiss suggest --input demo-output/records.jsonl --output demo-output/suggestions.jsonl
	$(BIN)/nearmiss batch data/sample/exports --db $(DEMO_DB)
	$(BIN)/nearmiss status --db $(DEMO_DB)

# The whole suite, PostgreSQL store tests included: starts a throwaway server on 127.0.0.1 (Debian's
# package, installed when root and missing) unless NEARMISS_TEST_PG_URL is already set.
test: install
	NEARMISS_TEST_PG_URL="$${NEARMISS_TEST_PG_URL:-$$(bash .ci/postgres.sh)}" $(BIN)/pytest

test-quick: install
	$(BIN)/pytest -m 'not e2e and not slow' -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline training

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks on SAFENET take its path: make bench SAFENET=../shared/benchmarks/safenet.jsonl
SAFENET ?= ../shared/benchmarks/safenet.jsonl

bench: install
	$(BIN)/python benchmarks/deid.py
	$(BIN)/python benchmarks/ingest_memory.py
	$(BIN)/python benchmarks/safenet.py --data $(SAFENET)
	$(BIN)/python benchmarks/suggest_speed.py --data $(SAFENET) --limit 1000
	$(BIN)/python benchmarks/batch.py

# A throwaway PostgreSQL on 127.0.0.1 for the store tests (Debian's package; prints its URL):
#   export NEARMISS_TEST_PG_URL="$$(make -s postgres)"
postgres:
	@bash .ci/postgres.sh

postgres-stop:
	@bash .ci/postgres.sh stop

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
