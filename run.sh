#!/usr/bin/env bash
# Sets up .venv on a fresh machine if needed, then serves Funnel Ledger on http://127.0.0.1:8000
# with an embedded PostgreSQL under ./.funnel-ledger (or DATABASE_URL when set).
# `./run.sh --demo` first loads a realistic demo quarter. Other options go to `serve`.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
if [ "${1:-}" = "--demo" ]; then
    shift
    .venv/bin/funnel-ledger demo
fi
exec .venv/bin/funnel-ledger serve "$@"
