#!/usr/bin/env bash
# Regenerate the pretrained model zoo from scratch (see docs/training.md).
#
#   scripts/make_zoo.sh [DATA_DIR] [JOBS]
#
# DATA_DIR (default ./zoo_data, keep it outside git) receives the raw LAMMPS samples:
# Cu64Zr36 and one Cu50Zr50 glass (2000 atoms, 2e13 K/s) and Kob-Andersen glasses (1000
# atoms), each sheared AQS to 5 %, plus the vibrational MSD of the Cu-Zr frames at 0-4 %
# strain (the sample list is ZOO_SAMPLES in softscope/training/zoo.py).  Then
# cuzr-softness, cuzr-igd, cuzr-qs and ka-softness are trained (split by glass sample),
# judged on held-out samples and on Cu50Zr50, and written to softscope/models/zoo/*.ssm
# with their cards; docs/model_cards.md is regenerated.  Every stage skips finished work,
# so an interrupted run can be restarted.
#
# JOBS (default 2 = the cores of this machine kind): samples made at once, one
# single-threaded LAMMPS per process; also the feature jobs of training.
# CPU time: see docs/training.md ("The zoo").
set -euo pipefail
DATA=${1:-zoo_data}
JOBS=${2:-2}
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p "$DATA"
if [ -x /usr/bin/time ]; then TIMER=(/usr/bin/time -v -o "$DATA/make_zoo.time"); else TIMER=(); fi
"${TIMER[@]}" python -m softscope.training.zoo --data "$DATA" --stage all --jobs "$JOBS"
[ -f "$DATA/make_zoo.time" ] && grep -E "User time|System time|Elapsed" "$DATA/make_zoo.time" || true
