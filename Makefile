# Kimera: `make demo` and `make test` are all a fresh clone needs; each runs `setup` first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export BENTOML_DO_NOT_TRACK := true
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: setup demo test lint ui bench clean

## setup: create .venv with pip (if missing), install the project, its npm test artefacts and dbt manifest
setup: $(VENV)/.installed evm/node_modules/.installed evm/build/sushiswap.json dbt_project/target/manifest.json .tools/uv/bin/uv

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "setuptools>=68" -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# `bentoml build` needs a uv binary; kept out of the venv, in .tools/uv (gitignored), found by bentos/build.py.
.tools/uv/bin/uv: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check --target .tools/uv uv==0.13.9
	@touch $@

# Real Uniswap V2/V3, SushiSwap and solc-js artefacts for the offline EVM tests.
evm/node_modules/.installed: evm/package.json evm/package-lock.json
	cd evm && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# SushiSwap's V2 fork ships sources, not bytecode: compiled with solc-js, its own init code hash written in.
evm/build/sushiswap.json: evm/node_modules/.installed evm/compile_sushiswap.js
	cd evm && node compile_sushiswap.js

# dagster-dbt needs dbt's manifest at import time (DbtProject.prepare_if_dev only acts under `dagster dev`).
dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project \( -path dbt_project/target -o -path dbt_project/logs \) -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.md' \) -print 2>/dev/null)
	@if [ -f dbt_project/dbt_project.yml ]; then cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --project-dir . ; else mkdir -p dbt_project/target; fi

## demo: the whole loop on the simulator
demo: setup
	$(BIN)/kimera demo

## test: lint and the whole test suite
test: setup lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## ui: the Dagster UI on http://127.0.0.1:3000 (telemetry off, instance under KIMERA_HOME/dagster)
ui: setup
	$(BIN)/kimera ui

## bench: every benchmark in one table
bench: setup
	$(BIN)/kimera bench

clean:
	rm -rf .kimera dbt_project/target dbt_project/logs
