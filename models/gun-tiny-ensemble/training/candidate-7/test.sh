#!/bin/bash
# Candidate 7's test figures, scored once, only after the valid gates of decision-rule-7.txt held.
# POINT: the confidence the rule chose on valid.
set -eu
POINT=$1
cd /work/main
PY=.venv/bin/python
W=/var/tmp/ens7; E=$W/gun-tiny-ensemble-c7
.venv/bin/gunwatch eval --data ../shared/datasets/pistols --split test --model $E --backend opencv > $W/eval-test.txt 2>&1
$PY benchmarks/thresholds.py --json --model $E --split test --nms 0.45 --confidence $POINT 2>/dev/null | tail -1 > $W/thresholds-test-nms0.45.json
echo test-done
