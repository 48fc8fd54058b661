#!/usr/bin/env bash
# Install what gridpatrol needs on a Debian 12 machine (run as root), then a virtualenv with the project.
# Usage: scripts/setup.sh demo|test   — "test" adds PostgreSQL 15 + PostGIS, GDAL's command-line tools and Chromium.
# Quick when run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"

pkgs=(python3.11-venv libsqlite3-mod-spatialite fonts-wqy-microhei)  # the font: Chinese on photo watermarks
if [ "$what" = test ]; then
  pkgs+=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting gdal-bin chromium)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# SpatiaLite is loaded as an SQLite extension: the venv's Python must allow that (pyenv builds often do not).
PY=/usr/bin/python3.11
if ! "$PY" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension' 2>/dev/null; then
  echo "setup: $PY cannot load SQLite extensions, so SpatiaLite would not work" >&2; exit 1
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  echo "setup: installing Python packages into .venv (first time takes about 90 s)"
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
