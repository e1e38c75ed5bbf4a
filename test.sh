#!/usr/bin/env bash
# Installs the locked dependencies into .venv when they changed (tools/install.sh),
# then lints, type-checks and runs every test.
# The tests start their own embedded PostgreSQL; set FUNNEL_TEST_DATABASE_URL to use a server.
set -euo pipefail
cd "$(dirname "$0")"
tools/install.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=85 "$@"
