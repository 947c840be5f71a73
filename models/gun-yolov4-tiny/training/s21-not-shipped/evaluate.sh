#!/bin/bash
# evaluate.sh RUN CONF : valid-side figures of a finished run's bundle (never test), as run for v4-s21
# (CONF: the valid-chosen confidence, 0.7 for v4-s21). Test was scored once afterwards, by
# decision-rule.txt: thresholds.py --split test (its baseline_seed row is 0.7 / NMS 0.4) and
# gunwatch eval --split test.
set -u
RUN=$1; CONF=${2:-0.7}; B=$RUN/bundle; O=$RUN/eval; mkdir -p $O
cd /work/main
PY=.venv/bin/python
$PY benchmarks/thresholds.py --json --model $B --split valid --backend opencv 2>/dev/null | tail -1 > $O/thresholds-valid.json
.venv/bin/gunwatch eval --data /work/shared/datasets/pistols --split valid --model $B --backend opencv > $O/eval-valid.txt 2>&1
for d in cctv-guns cctv-guns-v2; do
  .venv/bin/gunwatch eval --data /var/tmp/gunwatch-data/$d --split heldout --model $B --backend opencv > $O/eval-$d-heldout.txt 2>&1
done
$PY benchmarks/gun_free.py --json --model $B --confidence $CONF 2>/dev/null | tail -1 > $O/gunfree-valid.json
for d in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $B --split none --folder /var/tmp/gunwatch-data/$d/images/heldout --confidence $CONF 2>/dev/null | tail -1 > $O/gunfree-$d.json
done
$PY benchmarks/small_guns.py --json --modes whole,auto --confidences $CONF,0.35 --model $B > $O/small-guns.json 2>/dev/null
echo done
