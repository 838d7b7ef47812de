# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check lint types install serve migrate seed clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/forum db upgrade

seed: migrate
	$(BIN)/forum seed-demo

## Install into .venv, migrate the SQLite database under var/, seed the demo district, serve on :8000.
run: seed
	$(BIN)/forum serve

## The whole test suite, on SQLite and PostgreSQL, with real Redis, server processes and Chromium, in parallel
## (pytest-xdist; TEST_WORKERS=0 runs it in this one process).
TEST_WORKERS ?= 4
test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

## Everything CI checks, in order: lint, types, tests.
check: lint types test

## Re-extract translatable strings and merge them into the catalogs (then translate the new entries).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 -o forum/translations/messages.pot --no-location --sort-output --width 120 .
	$(BIN)/pybabel update -i forum/translations/messages.pot -d forum/translations -D messages --no-fuzzy-matching --ignore-obsolete --width 120

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
