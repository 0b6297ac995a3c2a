# cors_admin — developer commands. Needs only python3 (3.11+) on the machine.
#
#   make demo          venv + install, migrate SQLite, demo data, admin login, API on :8000 + front end on :8001
#   make test          the test suite on SQLite (Django 5.2, the main .venv)
#   make test-postgres the test suite on PostgreSQL at 127.0.0.1:5432
#   make lint          ruff check, ruff format --check, mypy cors_admin
#   make test-matrix   the test suite on the newest Django 6.x with Python 3.12 (or 3.13)
#
# Works unattended (CI=true, no stdin). Variables you may override:
#   PYTHON=python3  PYTEST_ARGS="-k origins"  DEMO_HOST=127.0.0.1  DEMO_PORT=8000

PYTHON ?= python3
VENV ?= .venv
# The main venv tests the LTS; the matrix venv tests the newest Django 6.x.
MAIN_DJANGO ?= Django>=5.2,<6
MATRIX_VENV ?= .venv-django6
MATRIX_DJANGO ?= Django>=6,<7
MATRIX_PYTHONS ?= 3.12 3.13
# Browser tests are left out of the matrix run to keep CI time sane; they run on 5.2 twice.
MATRIX_MARKERS ?= not browser
PYTEST_ARGS ?=
PG_TEST_NAME ?= test_cors_admin_make
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
DEMO_FRONTEND_PORT ?= 8001

BIN := $(VENV)/bin
DEMO_ENV := DEBUG=true DEMO_HOST=$(DEMO_HOST) DEMO_PORT=$(DEMO_PORT)

.PHONY: help venv demo demo-setup test test-postgres lint test-matrix clean

help:
	@sed -n '3,8p' Makefile | sed 's/^# *//'

# Creates $(VENV) and runs `pip install -e '.[dev]'` only when pyproject.toml changed.
venv:
	@scripts/venv.sh $(VENV) $(PYTHON) '$(MAIN_DJANGO)'

# The demo's database without the servers: migrate, demo policies, admin login.
demo-setup: venv
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py demo_setup

# demo_run migrates, loads the demo policies and admin login (demo_setup), then serves the API on
# :$(DEMO_PORT) and the front end on :$(DEMO_FRONTEND_PORT) until Ctrl-C (which stops both).
demo: venv
	$(DEMO_ENV) $(BIN)/python manage.py demo_run --bind $(DEMO_HOST) --api-port $(DEMO_PORT) --frontend-port $(DEMO_FRONTEND_PORT)

test: venv
	CORS_ADMIN_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

# Exit status of scripts/pg_available.sh: 0 reachable, 2 skip (developer machine), 1 fail (CI).
test-postgres: venv
	@scripts/pg_available.sh $(BIN)/python; rc=$$?; \
	if [ $$rc -eq 2 ]; then exit 0; elif [ $$rc -ne 0 ]; then exit $$rc; fi; \
	echo "CORS_ADMIN_TEST_DB=postgres CORS_ADMIN_TEST_PG_NAME=$(PG_TEST_NAME) $(BIN)/pytest $(PYTEST_ARGS)"; \
	CORS_ADMIN_TEST_DB=postgres CORS_ADMIN_TEST_PG_NAME=$(PG_TEST_NAME) $(BIN)/pytest $(PYTEST_ARGS)

# All three checks run; the target fails if any of them failed.
lint: venv
	@status=0; \
	echo ">>> ruff check ."; $(BIN)/ruff check . || status=1; \
	echo ">>> ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo ">>> mypy cors_admin"; $(BIN)/mypy cors_admin || status=1; \
	if [ $$status -ne 0 ]; then echo "LINT FAILED (see the output above)"; fi; \
	exit $$status

test-matrix:
	@py=$$(scripts/find_python.sh $(MATRIX_PYTHONS)) || { \
		echo "SKIPPED: no Python $(MATRIX_PYTHONS) interpreter found for the Django 6 matrix run."; \
		case "$${CI:-}" in true|1|yes) echo "CI=true: this is a failure."; exit 1;; esac; \
		exit 0; }; \
	scripts/venv.sh $(MATRIX_VENV) "$$py" '$(MATRIX_DJANGO)' || exit $$?; \
	echo ">>> $$($(MATRIX_VENV)/bin/python -c 'import django, sys; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")'), SQLite, -m '$(MATRIX_MARKERS)'"; \
	CORS_ADMIN_TEST_DB=sqlite $(MATRIX_VENV)/bin/pytest -m '$(MATRIX_MARKERS)' $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(MATRIX_VENV) .pytest_cache .mypy_cache .ruff_cache django_cors_admin.egg-info
