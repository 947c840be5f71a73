#!/bin/bash
# Candidate 6, measured after the decision (result-6.txt): what the mirrored looks cost and what
# they change over frames and on small guns, each against the default in the same run.
set -eu
cd /work/main
PY=.venv/bin/python
A=/var/tmp/ens6/after; mkdir -p $A
$PY benchmarks/model_speed.py --json --candidate gun-tiny-ensemble-mirrored --baseline gun-tiny-ensemble 2>/dev/null | tail -1 > $A/model-speed.json
for m in gun-tiny-ensemble gun-tiny-ensemble-mirrored; do
  $PY benchmarks/confirmation.py --json --model $m --confidences 0.45 2>/dev/null | tail -1 > $A/confirmation-$m.json
done
for m in gun-tiny-ensemble gun-tiny-ensemble-mirrored; do
  $PY benchmarks/small_guns.py --json --modes whole,auto --confidences 0.45 --model $m 2>/dev/null | tail -1 > $A/small-guns-$m.json
done
echo after-done
