# Canteen — the commands a newcomer can guess. `make run` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ENGINES := bash deploy/native/engines.sh
ENGINES_ENV := var/engines/engines.env
PYTEST_ARGS ?=

.PHONY: help install run test test-embedded test-engines lint format engines-up engines-down \
        engines-status bench soak asyncapi asyncapi-validate clean demo

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Canteen needs Python 3.11+ (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install Canteen with its dev tools

run: $(STAMP)  ## all four services in one process on the embedded backends, http://127.0.0.1:8080
	$(BIN)/canteen run

demo: $(STAMP)  ## fill the running `make run` stack with a demo company (idempotent; run it in a second terminal)
	$(BIN)/canteen admin seed-demo --url http://$${CANTEEN_HOST:-127.0.0.1}:$${CANTEEN_PORT:-8080}

lint: $(STAMP)  ## ruff, mypy, the architecture contracts, the AsyncAPI freshness check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

engines-up:  ## provision and start Kafka, OpenSearch and FerretDB on loopback (idempotent)
	$(ENGINES) up

engines-down:  ## stop the engines started by engines-up
	$(ENGINES) down

engines-status:  ## which engines are up
	$(ENGINES) status

test: lint engines-up asyncapi-validate  ## lint, type-check, start the engines, run the whole suite on both backends
	set -a && source $(ENGINES_ENV) && set +a && $(BIN)/pytest $(PYTEST_ARGS)

test-embedded: $(STAMP)  ## the embedded half only (no engines), for a quick loop
	$(BIN)/pytest -m "not engines" $(PYTEST_ARGS)

asyncapi: $(STAMP)  ## regenerate docs/asyncapi.yaml from the event registry
	$(BIN)/canteen asyncapi --output docs/asyncapi.yaml

asyncapi-validate: $(STAMP)  ## validate docs/asyncapi.yaml with the AsyncAPI CLI (when node is present)
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
	  bash deploy/asyncapi-cli.sh validate docs/asyncapi.yaml; \
	else echo "node not found: AsyncAPI CLI validation not run (the schema test still runs)"; fi

bench: $(STAMP) engines-up  ## benchmarks against the raw engines; numbers go to docs/performance.md
	set -a && source $(ENGINES_ENV) && set +a && \
	  $(BIN)/python bench/run_all.py --output var/bench/latest.md

soak: $(STAMP)  ## 30 min of mixed load with a fault every 3 min on private engines (CANTEEN_SOAK_MINUTES=5 for less)
	$(BIN)/pytest -p no:cacheprovider -s tests/reliability/soak.py

clean:  ## remove the venv, data and caches (not the engine download cache)
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
