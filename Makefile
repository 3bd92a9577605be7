# The README's commands. Each target creates the pinned environment it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sample test lint format docs clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Run the nightly job once on the bundled sample data (sample/warehouse/skm.duckdb).
sample: $(STAMP)
	$(BIN)/skm-etl run --config sample/config.yaml

## Lint, then the whole test suite.
test: $(STAMP) lint
	sh scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q --hypothesis-profile=ci -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src flows tests scripts
	$(BIN)/ruff format --check src flows tests scripts
	cd dbt_project && ../$(BIN)/sqlfluff lint models --processes 1

format: $(STAMP)
	$(BIN)/ruff format src flows tests scripts
	$(BIN)/ruff check --fix src flows tests scripts

## Build the dbt docs site (<warehouse dir>/dbt_docs/index.html) for analysts.
docs: $(STAMP)
	$(BIN)/skm-etl docs --config sample/config.yaml

clean:
	rm -rf $(VENV) sample/warehouse dbt_project/target dbt_project/logs
