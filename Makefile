# The README's commands. `make run` runs the service; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install run test unit integration lint typecheck stack-up stack-down status reset bench lock

help:
	@echo "make run        stack + worker + API in the foreground (Ctrl-C stops what it started)"
	@echo "make test       make lint, then the whole test suite (installs and starts what it needs)"
	@echo "make unit       unit tests only (no Kafka, no PostgreSQL)"
	@echo "make lint       ruff + mypy (strict on the core) + import contracts + pip-audit"
	@echo "make lock       re-resolve requirements*.lock (hashes) after a pyproject.toml edit"
	@echo "make stack-up / stack-down / status / reset   the local Kafka and PostgreSQL"
	@echo "make bench      the matching benchmark"

# Reinstall when pyproject.toml or the lock changes; the first run fetches packages from PyPI.
# Exactly the locked versions, each checked against its hash (requirements-dev.lock); then
# our own package without dependencies. `pip check` catches a dependency added to
# pyproject.toml but not locked yet (run `make lock`).
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@$(PY) -m pip check || { echo "pyproject.toml and the lock disagree: run make lock" >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

run: install
	deploy/local/run.sh

# The suite runs only on code that passes lint (CI runs `make test`, so lint is enforced).
test: install lint
	deploy/local/test.sh

unit: install
	$(PY) -m pytest tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	deploy/local/audit.sh

# Re-resolve the locks (with hashes) after editing dependencies in pyproject.toml.
# requirements-build.lock: [build-system] requires, for the image's isolation-free build.
lock: $(VENV)/bin/pip-compile
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	  --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url \
	  -o requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	  --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url --extra dev \
	  -o requirements-dev.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	  --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url \
	  --build-deps-for wheel --only-build-deps -o requirements-build.lock pyproject.toml

$(VENV)/bin/pip-compile:
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "pip-tools>=7.4"

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
