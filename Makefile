# gridpatrol — the two commands: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
HOST  ?= 127.0.0.1
PORT  ?= 8000
PYTEST_ARGS ?=
WORKERS ?= 2

.PHONY: demo test setup setup-test serve users bench lint lint-only clean

## Build gridpatrol.db from a real city (first run only) and serve http://$(HOST):$(PORT)
demo: setup
	$(BIN)/gridpatrol demo --host $(HOST) --port $(PORT)

## Lint (ruff) and type-check (mypy on the files in pyproject's [tool.mypy]), then run every test on SpatiaLite and
## on a throwaway PostGIS (and its streaming standby, for the read-replica tests), plus the browser tests in Chromium,
## in a random order (pytest-randomly; the header prints the seed: repeat an order with PYTEST_ARGS=--randomly-seed=N).
## Each run writes test-output/junit.xml: `$(BIN)/python scripts/test_times.py test-output/junit.xml` lists the files
## that took longest (tests/conftest.py LONG_FILES: the scheduler starts them first)
test: setup-test
	@$(MAKE) --no-print-directory lint-only
	@url=$$(scripts/pg.sh start) && trap 'scripts/pg.sh stop' EXIT && replica=$$(scripts/pg.sh start-replica) && \
	  GRIDPATROL_TEST_POSTGRES_URL=$$url GRIDPATROL_TEST_REPLICA_URL=$$replica GRIDPATROL_REQUIRE_ALL_DATABASES=1 \
	  $(BIN)/python -m pytest -p randomly -n $(WORKERS) --dist loadfile --junitxml=test-output/junit.xml $(PYTEST_ARGS)

setup:
	@scripts/setup.sh demo

setup-test:
	@scripts/setup.sh test

serve: setup
	$(BIN)/gridpatrol serve --host $(HOST) --port $(PORT)

## The accounts of gridpatrol.db (the demo's: password demo-pass-2026); any other command: .venv/bin/gridpatrol …
users: setup
	$(BIN)/gridpatrol users list

## Benchmarks (run on purpose; they start their own PostGIS)
bench: setup-test
	@url=$$(scripts/pg.sh start) && trap 'scripts/pg.sh stop' EXIT && replica=$$(scripts/pg.sh start-replica) && \
	  GRIDPATROL_BENCH_POSTGRES_URL=$$url GRIDPATROL_BENCH_REPLICA_URL=$$replica $(BIN)/python bench/run.py

## ruff (rules in pyproject.toml) on all the code, and mypy on the packages [tool.mypy] lists
lint: setup-test
	@$(MAKE) --no-print-directory lint-only

lint-only:
	$(BIN)/ruff check geo patrol api maps tests bench
	PYTHONPATH=$(CURDIR) $(BIN)/mypy

clean:
	rm -rf $(VENV) .pg .pytest_cache gridpatrol.db test-output
