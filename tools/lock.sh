#!/usr/bin/env bash
# Refreshes the hashed lock files under requirements/ from pyproject.toml (run after changing a
# dependency, or to take newer releases): `tools/lock.sh`, then run ./test.sh and commit both.
# dev.txt (tests, lint, benchmarks, build tools) is resolved first; runtime.txt (the service
# alone: run.sh, the Dockerfile) is held to the same versions.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=(.venv/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes)
"${UV[@]}" --extra dev --extra bench pyproject.toml requirements/build.in -o requirements/dev.txt "$@"
"${UV[@]}" pyproject.toml requirements/build.in -c requirements/dev.txt -o requirements/runtime.txt
