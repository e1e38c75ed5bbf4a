#!/usr/bin/env bash
# Sets up .venv on a fresh machine if needed, then lints, type-checks and runs every test.
# The tests start their own embedded PostgreSQL; set FUNNEL_TEST_DATABASE_URL to use a server.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=85 "$@"
