#!/usr/bin/env bash
# Installs the locked dependencies into .venv when they changed (tools/install.sh),
# then serves Funnel Ledger on http://127.0.0.1:8000
# with an embedded PostgreSQL under ./.funnel-ledger (or DATABASE_URL when set).
# `./run.sh --demo` first loads a realistic demo quarter. Other options go to `serve`.
set -euo pipefail
cd "$(dirname "$0")"
tools/install.sh runtime
if [ "${1:-}" = "--demo" ]; then
    shift
    .venv/bin/funnel-ledger demo
fi
exec .venv/bin/funnel-ledger serve "$@"
