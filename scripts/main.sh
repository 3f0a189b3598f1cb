#!/usr/bin/env bash
# Set up a fresh machine (Debian, root) and run the main job on the shipped data:
# `softscope demo` — a short LAMMPS shear of the shipped Cu64Zr36 glass with the softscope
# fix and the shipped cuzr-softness-radial model (positions averaged over 1 ps); live metrics on screen; dump, input, metrics,
# plots and a rendered picture in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if ! dpkg -s libvulkan1 mesa-vulkan-drivers >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 mesa-vulkan-drivers >/dev/null
  fi
fi
python -m pip install -q --disable-pip-version-check -e .
softscope demo --out "${1:-out/demo}"
