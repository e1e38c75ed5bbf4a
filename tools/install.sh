#!/usr/bin/env bash
# Installs the locked dependencies into .venv: `tools/install.sh runtime` (the service) or
# `tools/install.sh dev` (tests, lint, benchmarks). Every package comes from a hashed lock file
# under requirements/; nothing is installed when .venv already holds exactly that set, so a
# second start needs no package index.
set -euo pipefail
cd "$(dirname "$0")/.."
set_name="${1:?usage: tools/install.sh runtime|dev}"
lock="requirements/${set_name}.txt"
[ -f "$lock" ] || { echo "no lock file $lock" >&2; exit 2; }
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.funnel-ledger-${set_name}"
wanted="$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --require-hashes --no-deps -r "$lock"
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
echo "$wanted" > "$stamp"
