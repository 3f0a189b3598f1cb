#!/usr/bin/env bash
# Set up a fresh machine (Debian, root) and run the main job on the shipped data:
# an AQS shear of the shipped Cu64Zr36 glass in LAMMPS, D²min, and which structural
# indicator predicts the rearrangements (JSON + bar chart in out/tour/).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -e .
python examples/indicator_tour.py --out "${1:-out/tour}"
