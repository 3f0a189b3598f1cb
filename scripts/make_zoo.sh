#!/usr/bin/env bash
# Regenerate the pretrained model zoo from scratch (see docs/training.md).
#
#   scripts/make_zoo.sh [DATA_DIR] [JOBS]
#
# DATA_DIR (default ./zoo_data, keep it outside git) receives the raw LAMMPS samples:
# 8 Cu64Zr36 + 1 Cu50Zr50 glasses (1200 atoms, 3e13 K/s) and 3 Kob-Andersen glasses
# (1000 atoms), each sheared AQS to 5 %, plus the vibrational MSD of the Cu-Zr frames at
# 0-4 % strain.  Then cuzr-softness, cuzr-igd, cuzr-qs and ka-softness are trained (split
# by glass sample), judged on held-out samples and on Cu50Zr50, and written to
# softscope/models/zoo/*.ssm with their cards; docs/model_cards.md is regenerated.
# Every stage skips finished work, so an interrupted run can be restarted.
#
# CPU time: see docs/training.md (measured ≈ 51 CPU-minutes for data + training).
# To use both cores for data, run two copies of the data stage on disjoint samples, e.g.
#   python -m softscope.training.zoo --data D --stage data  (one process per core)
set -euo pipefail
DATA=${1:-zoo_data}
JOBS=${2:-1}
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p "$DATA"
if [ -x /usr/bin/time ]; then TIMER=(/usr/bin/time -v -o "$DATA/make_zoo.time"); else TIMER=(); fi
"${TIMER[@]}" python -m softscope.training.zoo --data "$DATA" --stage all --jobs "$JOBS"
[ -f "$DATA/make_zoo.time" ] && grep -E "User time|System time|Elapsed" "$DATA/make_zoo.time" || true
