#!/usr/bin/env bash
# Set everything up, then lint and run the whole test suite (what CI runs).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
.venv/bin/ruff check --no-cache .
exec .venv/bin/python -m pytest "$@"
