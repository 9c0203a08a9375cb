# Thin wrappers over the dagster-ecs CLI. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DAGSTER_ECS := $(BIN)/dagster-ecs
INSTALLED := $(VENV)/.installed
C ?=
# ENV: unset = the `make dev` stack; local = the tofu environment in that stack's emulator;
# aws = AWS. Infrastructure targets need ENV=local or ENV=aws (they never guess).
ENV ?=
TOFU ?=
AUTO_APPROVE ?=
IMAGE ?=
SERVICE ?= webserver
INFRA_FLAGS = $(if $(ENV),--env $(ENV)) $(if $(TOFU),--binary $(TOFU)) $(if $(filter 1 true yes,$(AUTO_APPROVE)),--auto-approve)

.DEFAULT_GOAL := help
.PHONY: help dev dev-with-repos stop status dev-logs dev-reset deploy logs test test-unit test-integration test-parity \
	lint format bench install infra-init infra-plan infra-apply infra-destroy cost infra-lint \
	add-repo dev-add-repo update-repo sync-repos remove-repo list-repos repo-logs \
	deploy-dags rollback-dags dags-status dags-history deploy-all snapshot parity replay

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

dev: $(INSTALLED) ## Start the local stack and print the UI URL [SNAPSHOT=file: in that snapshot's shape]
	$(DAGSTER_ECS) dev up $(if $(SNAPSHOT),--snapshot '$(SNAPSHOT)')

dev-with-repos: $(INSTALLED) ## The local stack with every repository it had registered
	$(DAGSTER_ECS) dev up --with-repos

stop: ## Stop every process of the local stack
	@if [ -x $(DAGSTER_ECS) ]; then $(DAGSTER_ECS) dev stop; else echo "nothing was running"; fi

status: $(INSTALLED) ## What runs, on which port, healthy or not
	$(DAGSTER_ECS) dev status

dev-logs: $(INSTALLED) ## Follow every process's and ECS service's logs, or one's: make dev-logs C=webserver
	$(DAGSTER_ECS) dev logs $(C)

dev-reset: $(INSTALLED) ## Wipe PostgreSQL and emulator state, then start again
	$(DAGSTER_ECS) dev reset

deploy: $(INSTALLED) ## Roll new task definition revisions: make deploy [IMAGE=dagster-ecs:v2] [ENV=local|aws]
	$(DAGSTER_ECS) deploy --env $(or $(ENV),dev) $(if $(IMAGE),--image $(IMAGE))

logs: $(INSTALLED) ## A service's logs from CloudWatch Logs: make logs SERVICE=cl-main [ENV=local|aws]
	$(DAGSTER_ECS) logs $(SERVICE) --env $(or $(ENV),dev)

infra-init: $(INSTALLED) ## tofu init: make infra-init ENV=local|aws [TOFU=tofu|terraform]
	$(DAGSTER_ECS) infra init $(INFRA_FLAGS)

infra-plan: $(INSTALLED) ## tofu plan: make infra-plan ENV=local|aws
	$(DAGSTER_ECS) infra plan $(INFRA_FLAGS)

infra-apply: $(INSTALLED) ## tofu apply: make infra-apply ENV=local|aws (aws asks unless AUTO_APPROVE=1)
	$(DAGSTER_ECS) infra apply $(INFRA_FLAGS)

infra-destroy: $(INSTALLED) ## tofu destroy: make infra-destroy ENV=local|aws (aws asks unless AUTO_APPROVE=1)
	$(DAGSTER_ECS) infra destroy $(INFRA_FLAGS)

REPO_URL ?=
REPO_NAME ?=
BRANCH ?= main
PYTHON_FILE ?=
MODULE ?=
PURGE ?=
REPO_FLAGS = --env $(or $(ENV),dev)

comma := ,

add-repo: $(INSTALLED) ## Add a Git repository as a code location: make add-repo REPO_URL=… REPO_NAME=… [BRANCH=main] [PYTHON_FILE=…|MODULE=…] [READ_FROM=a,b]
	$(DAGSTER_ECS) repo add --url "$(REPO_URL)" --name "$(REPO_NAME)" --branch "$(BRANCH)" \
	  $(if $(PYTHON_FILE),--python-file "$(PYTHON_FILE)") $(if $(MODULE),--module "$(MODULE)") \
	  $(if $(DAGS_DIR),--dags-dir "$(DAGS_DIR)") \
	  $(foreach other,$(subst $(comma), ,$(READ_FROM)),--read-from "$(other)") $(REPO_FLAGS)

dev-add-repo: add-repo ## add-repo against the dev stack (the production design's name)

update-repo: $(INSTALLED) ## Fetch, rebuild if the commit moved, roll the service: make update-repo REPO_NAME=…
	$(DAGSTER_ECS) repo update "$(REPO_NAME)" $(REPO_FLAGS)

sync-repos: $(INSTALLED) ## Fetch every repository, roll those whose commit moved
	$(DAGSTER_ECS) repo sync $(REPO_FLAGS)

remove-repo: $(INSTALLED) ## Remove a repository and all its resources: make remove-repo REPO_NAME=… [PURGE=1]
	$(DAGSTER_ECS) repo remove "$(REPO_NAME)" $(if $(filter 1 true yes,$(PURGE)),--purge) $(REPO_FLAGS)

list-repos: $(INSTALLED) ## Registered repositories: URL, branch, commit, status, image, S3 prefix, UI link
	$(DAGSTER_ECS) repo list $(REPO_FLAGS)

repo-logs: $(INSTALLED) ## A repository's code server and run logs: make repo-logs REPO_NAME=… [FOLLOW=1]
	$(DAGSTER_ECS) repo logs "$(REPO_NAME)" $(if $(filter 1 true yes,$(FOLLOW)),--follow) $(REPO_FLAGS)

DAGS_LOCATION = $(if $(REPO_NAME),--location "$(REPO_NAME)")

deploy-dags: $(INSTALLED) ## Upload dags/<location>/ to S3; running code servers serve it: make deploy-dags [REPO_NAME=…] [SOURCE=dir]
	$(DAGSTER_ECS) dags deploy $(DAGS_LOCATION) $(if $(SOURCE),--source "$(SOURCE)") $(REPO_FLAGS)

rollback-dags: $(INSTALLED) ## Restore an earlier DAG deployment: make rollback-dags [REPO_NAME=…] [TO=<id> | STEPS=1]
	$(DAGSTER_ECS) dags rollback $(DAGS_LOCATION) $(if $(TO),--to "$(TO)") $(if $(STEPS),--steps "$(STEPS)") $(REPO_FLAGS)

dags-status: $(INSTALLED) ## Per location and task: DAG deployment served, last sync, last error, health
	$(DAGSTER_ECS) dags status $(DAGS_LOCATION) $(REPO_FLAGS)

dags-history: $(INSTALLED) ## A location's DAG deployments: make dags-history [REPO_NAME=…]
	$(DAGSTER_ECS) dags history $(DAGS_LOCATION) $(REPO_FLAGS)

deploy-all: $(INSTALLED) ## DAGs to S3, then roll the containers: make deploy-all [IMAGE=…] [ENV=…]
	$(DAGSTER_ECS) dags deploy $(REPO_FLAGS)
	$(DAGSTER_ECS) deploy --env $(or $(ENV),dev) $(if $(IMAGE),--image $(IMAGE))

snapshot: $(INSTALLED) ## What an environment runs, as a file (read-only): make snapshot ENV=aws [RUN_ID=…] [OUT=snapshot.json]
	$(DAGSTER_ECS) snapshot $(REPO_FLAGS) $(if $(OUT),--out "$(OUT)") $(if $(RUN_ID),--run-id "$(RUN_ID)") $(if $(WEBSERVER_URL),--webserver-url "$(WEBSERVER_URL)")

replay: $(INSTALLED) ## A snapshot's run again on the dev stack, compared with production: make replay RUN_ID=… [SNAPSHOT=snapshot.json] [LATEST=1]
	$(DAGSTER_ECS) replay --snapshot "$(or $(SNAPSHOT),snapshot.json)" $(if $(RUN_ID),--run-id "$(RUN_ID)") $(if $(LATEST),--latest)

parity: $(INSTALLED) ## What differs from the dev stack (or AGAINST=local|aws|file), field by field: make parity ENV=aws
	$(DAGSTER_ECS) parity --env $(or $(ENV),aws) $(if $(AGAINST),--against "$(AGAINST)")

cost: $(INSTALLED) ## Monthly cost estimate, per component and per code location
	$(DAGSTER_ECS) cost

# checkov pins many libraries, so it lives in its own venv. Every finding is fixed or skipped in
# the HCL with `#checkov:skip=CKV_...:reason` inside the resource block.
.venv-tools/bin/checkov:
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet "checkov==3.3.30"

infra-lint: .venv-tools/bin/checkov ## Static security scan of infrastructure/ (checkov)
	.venv-tools/bin/checkov -d infrastructure --framework terraform --quiet --compact --skip-download

test: $(INSTALLED) ## Unit, integration and parity tests
	$(BIN)/pytest -q tests/unit tests/integration tests/parity

test-unit: $(INSTALLED) ## Unit tests only
	$(BIN)/pytest -q tests/unit

test-integration: $(INSTALLED) ## Integration tests (real emulator, PostgreSQL and Dagster processes)
	$(BIN)/pytest -q tests/integration

test-parity: $(INSTALLED) ## ECS behaviours as AWS documents them, each test quoting its page
	$(BIN)/pytest -q tests/parity

lint: $(INSTALLED) ## ruff, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED) ## Apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(INSTALLED) ## Run the benchmarks and write bench/results/
	$(BIN)/python -m bench.run
