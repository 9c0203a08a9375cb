# Thin wrappers over the dagster-ecs CLI. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DAGSTER_ECS := $(BIN)/dagster-ecs
INSTALLED := $(VENV)/.installed
C ?=

.DEFAULT_GOAL := help
.PHONY: help dev stop status dev-logs dev-reset test test-unit test-integration lint format bench install

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
	  || { echo "error: Python 3.11+ is required; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## Create .venv and install the project

dev: $(INSTALLED) ## Start the local stack in the background and print the UI URL
	$(DAGSTER_ECS) dev up

stop: ## Stop every process of the local stack
	@if [ -x $(DAGSTER_ECS) ]; then $(DAGSTER_ECS) dev stop; else echo "nothing was running"; fi

status: $(INSTALLED) ## What runs, on which port, healthy or not
	$(DAGSTER_ECS) dev status

dev-logs: $(INSTALLED) ## Follow all logs, or one component's: make dev-logs C=webserver
	$(DAGSTER_ECS) dev logs $(C)

dev-reset: $(INSTALLED) ## Wipe PostgreSQL and emulator state, then start again
	$(DAGSTER_ECS) dev reset

test: $(INSTALLED) ## Unit and integration tests
	$(BIN)/pytest -q tests/unit tests/integration

test-unit: $(INSTALLED) ## Unit tests only
	$(BIN)/pytest -q tests/unit

test-integration: $(INSTALLED) ## Integration tests (real emulator, PostgreSQL and Dagster processes)
	$(BIN)/pytest -q tests/integration

lint: $(INSTALLED) ## ruff, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED) ## Apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(INSTALLED) ## Run the benchmarks and write bench/results/
	$(BIN)/python -m bench.run
