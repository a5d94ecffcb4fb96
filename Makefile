# The README's commands. `make run` runs the service; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install run test unit integration lint typecheck stack-up stack-down status reset bench

help:
	@echo "make run        stack + worker + API in the foreground (Ctrl-C stops what it started)"
	@echo "make test       the whole test suite (installs and starts what it needs)"
	@echo "make unit       unit tests only (no Kafka, no PostgreSQL)"
	@echo "make lint       ruff + mypy (strict on the core) + import contracts"
	@echo "make stack-up / stack-down / status / reset   the local Kafka and PostgreSQL"
	@echo "make bench      the matching benchmark"

# Reinstall when pyproject.toml changes; the first run fetches packages from PyPI.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	deploy/local/run.sh

test: install
	deploy/local/test.sh

unit: install
	$(PY) -m pytest tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

stack-up: install
	deploy/local/stack.sh up

stack-down:
	deploy/local/stack.sh down

status:
	deploy/local/stack.sh status

reset:
	deploy/local/stack.sh reset

bench: install
	$(PY) -m dispatcher bench match --helpers 1000,100000,1000000
