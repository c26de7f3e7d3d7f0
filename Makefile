# pmu-warehouse: `make demo` runs the whole pipeline from nothing; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format ui bench dbt-parse db-stop clean browser

# The venv is (re)built when missing or when the dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The install is timed too: the demo's summary says where the time went, installation included.
demo:
	@start=$$(date +%s); $(MAKE) --no-print-directory install; \
	PMU_DEMO_INSTALL_SECONDS=$$(( $$(date +%s) - start )) $(BIN)/pmu demo

# The dbt manifest is what Dagster loads: parse it here so a clean clone has one.
dbt-parse: install
	cd dbt_project && PMU_PGHOST=$${PMU_PGHOST:-/nonexistent} ../$(BIN)/dbt parse --profiles-dir . --quiet

# The dashboard's browser test drives Debian's chromium: installed here under CI (as root, or
# with sudo) when missing; elsewhere the test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$${CI:-}" = true ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; \
	fi

test: lint dbt-parse browser
	$(BIN)/pytest

# The fast tier: everything but the end-to-end tests marked slow (they build whole warehouses).
test-fast: lint dbt-parse browser
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui: install
	$(BIN)/pmu ui

bench: install
	for script in bench/[!_]*.py; do $(BIN)/python $$script || exit 1; done

db-stop: install
	$(BIN)/pmu db stop

clean:
	-$(BIN)/pmu db stop
	rm -rf $(VENV) .pmu dbt_project/target dbt_project/logs
