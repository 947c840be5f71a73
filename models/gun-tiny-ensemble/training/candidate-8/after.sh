#!/bin/bash
# Candidate 8, measured after the decision (result-8.txt): the new default (mirrored looks where
# the plain fusion has a box >= 0.30) against the plain fusion it replaced, in the same run.
# PLAIN: the replaced default's model.json with absolute member paths (made by hand from git:
# `git show HEAD~1:models/gun-tiny-ensemble/model.json`).
set -eu
cd /work/main
PY=.venv/bin/python
A=/var/tmp/ens8/after; mkdir -p $A
PLAIN=/var/tmp/ens8/gun-tiny-ensemble-plain
$PY benchmarks/model_speed.py --json --candidate gun-tiny-ensemble --baseline $PLAIN 2>/dev/null | tail -1 > $A/model-speed-pistols.json
for m in gun-tiny-ensemble $PLAIN; do
  n=$(basename $m)
  $PY benchmarks/confirmation.py --json --model $m --confidences 0.45 2>/dev/null | tail -1 > $A/confirmation-$n.json
  $PY benchmarks/small_guns.py --json --modes whole,auto --confidences 0.45 --model $m 2>/dev/null | tail -1 > $A/small-guns-$n.json
  $PY benchmarks/capacity.py --json --cameras 1,2,3,4,6 --modes auto --backends opencv --seconds 20 --model $m 2>/dev/null | tail -1 > $A/capacity-$n.json
done
echo after-done
