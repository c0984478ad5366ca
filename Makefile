# tiepdan — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package, the transitive ones and the build backend included, pinned with its hashes:
# requirements.lock for production (the image), requirements-dev.lock adds the dev extra.
LOCK := requirements-dev.lock
# The build backend (pyproject's build-system) is locked too, so `pip install .` builds from it.
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"
COMPILE := $(BIN)/uv pip compile --quiet --universal --generate-hashes --custom-compile-command 'make lock'

.PHONY: run test lint bench setup lock clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

## Set everything up and start the bot (console chat when no messenger token is set).
run: $(STAMP)
	$(BIN)/tiepdan run

## Set everything up, lint, and run the whole test suite.
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests/test_layers.py  # the layers point down (DESIGN.md §3)

bench: $(STAMP)
	$(BIN)/python -m bench

## Write the lock files again from pyproject.toml: versions already locked are kept while they
## satisfy its ranges; `make lock UPGRADE=1` takes the newest each range allows.
## The runtime lock is resolved inside the dev one, so both pin the same versions.
lock: $(STAMP)
	$(BUILD_REQUIRES) | $(COMPILE) $(if $(UPGRADE),--upgrade) pyproject.toml - --extra dev -o requirements-dev.lock
	$(BUILD_REQUIRES) | $(COMPILE) pyproject.toml - -c requirements-dev.lock -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
