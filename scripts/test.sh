#!/usr/bin/env bash
# Set up a fresh machine (Debian, root) and run the test suite.
# Usage: bash scripts/test.sh [extra pytest args]     (SOFTSCOPE_SLOW=1 also runs slow tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries for OVITO's offscreen renderer (only installed when missing).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if ! dpkg -s libvulkan1 mesa-vulkan-drivers >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 mesa-vulkan-drivers >/dev/null
  fi
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"

# Lint and format are part of the suite (same ruff version as the pin in pyproject.toml).
python -m ruff check .
python -m ruff format --check .

marker=(-m "not slow")
[ "${SOFTSCOPE_SLOW:-0}" = 1 ] && marker=()
python -m pytest "${marker[@]}" "$@"
