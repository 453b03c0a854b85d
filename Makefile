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

.PHONY: setup demo test test-slow lint ui bench clean servers cluster

## setup: create .venv with pip (if missing), install the project, its npm test artefacts and dbt manifest
setup: $(VENV)/.installed evm/node_modules/.installed evm/build/sushiswap.json evm/build/pancakeswap/.done evm/build/pancakeswap/router.json dbt_project/target/manifest.json .tools/uv/bin/uv .tools/chromium zk/build/.done servers

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "setuptools>=68" -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# `bentoml build` needs a uv binary; kept out of the venv, in .tools/uv (gitignored), found by bentos/build.py.
.tools/uv/bin/uv: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check --target .tools/uv uv==0.13.9
	@touch $@

# Chromium for the browser tests: on PATH, else Debian's package (as root), else Playwright's download;
# if none works it says what to do, and setup goes on (only tests/browser need it). The stamp holds its path.
.tools/chromium: $(VENV)/.installed
	@mkdir -p .tools && scripts/ensure-chromium.sh $(PY) > $@ || { rm -f $@; echo "setup goes on without Chromium" >&2; }

# Real Uniswap V2/V3, SushiSwap and solc-js artefacts for the offline EVM tests.
evm/node_modules/.installed: evm/package.json evm/package-lock.json
	cd evm && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Zero-knowledge proofs of compliant orders: circom2, circomlib, snarkjs; the circuit compiled and its keys
# made once by a local trusted setup (zk/setup.sh, a few minutes; zk/build is gitignored).
zk/node_modules/.installed: zk/package.json zk/package-lock.json
	cd zk && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

zk/build/.done: zk/node_modules/.installed zk/circuits/compliant_order.circom zk/setup.sh
	zk/setup.sh

# SushiSwap's V2 fork ships sources, not bytecode: compiled with solc-js, its own init code hash written in.
evm/build/sushiswap.json: evm/node_modules/.installed evm/compile_sushiswap.js
	cd evm && node compile_sushiswap.js

# PancakeSwap's Factory and Pair with bytecode (npm pack: installing it would pull truffle and a GitHub dependency)
evm/build/pancakeswap/.done:
	mkdir -p evm/build/pancakeswap && cd evm/build/pancakeswap && npm pack @pancakeswap-libs/pancake-swap-core@0.1.0 --silent \
	  && tar xzf pancakeswap-libs-pancake-swap-core-0.1.0.tgz && touch .done

# PancakeSwap's router ships as Solidity sources (pancakeswap-peripheral, npm pack: its dependencies pull
# truffle): compiled with solc-js 0.6.6 (evm/package.json), the npm Pair's init code hash written in.
evm/build/pancakeswap/router.json: evm/build/pancakeswap/.done evm/node_modules/.installed evm/compile_pancakeswap.js
	mkdir -p evm/build/pancakeswap/periphery && cd evm/build/pancakeswap/periphery \
	  && npm pack pancakeswap-peripheral@1.1.0-beta.0 --silent && tar xzf pancakeswap-peripheral-1.1.0-beta.0.tgz
	cd evm && node compile_pancakeswap.js

# dagster-dbt needs dbt's manifest at import time (DbtProject.prepare_if_dev only acts under `dagster dev`).
dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project \( -path dbt_project/target -o -path dbt_project/logs \) -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.md' \) -print 2>/dev/null)
	@if [ -f dbt_project/dbt_project.yml ]; then cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --project-dir . ; else mkdir -p dbt_project/target; fi

## demo: the whole loop on the simulator
demo: setup
	$(BIN)/kimera demo

## test: lint and the test suite without the slow end-to-end tests (about 6 minutes on 2 cores)
test: setup lint
	$(BIN)/pytest -m "not slow"

## test-slow: the slow end-to-end tests (demo runs, clusters, browsers, kill tests; about 16 minutes)
test-slow: setup
	$(BIN)/pytest -m slow

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## servers: PostgreSQL's server programs (initdb, pg_ctl) and redis-server (the Celery broker) for
## `kimera cluster` and the scaled-out tests
servers:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } || \
	  echo "PostgreSQL's server programs are missing: install them (e.g. apt-get install postgresql) for kimera cluster"
	@command -v redis-server >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; } || \
	  echo "redis-server is missing: install it (e.g. apt-get install redis-server) for kimera cluster --executor celery"

## cluster: Dagster on a throwaway PostgreSQL (queued runs, daemon, UI on :3000); Ctrl-C stops it
cluster: setup
	$(BIN)/kimera cluster

## ui: the Dagster UI on http://127.0.0.1:3000 (telemetry off, instance under KIMERA_HOME/dagster)
ui: setup
	$(BIN)/kimera ui

## bench: every benchmark in one table
bench: setup
	$(BIN)/kimera bench

clean:
	rm -rf .kimera dbt_project/target dbt_project/logs
