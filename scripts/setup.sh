#!/usr/bin/env bash
# Set up a development / demo machine: Debian packages, then .venv with stallpay installed editable.
# Idempotent and non-interactive; re-running only does what is missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' scripts/system-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  pkg="${pkg//[[:space:]]/}"
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo -n); fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python virtualenv -------------------------------------------------------
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  log "Python 3.11 or newer is needed ($py is $("$py" --version 2>&1))"; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.stallpay-installed
want="$(cat setup.py pyproject.toml scripts/face-nodeps.txt requirements/*.lock | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/stallpay ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$(uname -m)" = x86_64 ]; then
    # exact versions and hashes from the lock (scripts/lock.sh regenerates it), so CI tests what ships
    log "installing the locked dependencies (requirements/dev-x86_64.lock) and stallpay (editable) into .venv"
    .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements/dev-x86_64.lock
    .venv/bin/python -m pip install -q --no-deps -e .
  else
    log "no lock for $(uname -m): installing stallpay (editable) and its newest dependencies into .venv"
    .venv/bin/python -m pip install -q -e '.[dev]'
  fi
  # face pay models without their conflicting dependencies (see scripts/face-nodeps.txt)
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements/face-nodeps.lock
  echo "$want" > "$stamp"
fi
# sample face photos for the tests, the demo and bench/face.py (from the face_recognition sdist on PyPI)
.venv/bin/python -c 'from terminal.camera.samples import sample_photos; sample_photos()'
log "ready: .venv/bin/stallpay"
