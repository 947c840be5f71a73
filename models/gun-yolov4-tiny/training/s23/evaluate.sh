#!/bin/bash
# evaluate.sh RUN CONF NMS : valid-side figures of a finished run's bundle (never test), at the
# operating point decision-rule.txt picks on valid (thresholds-valid.json, written first by
# `evaluate.sh RUN` alone). Test is scored once afterwards, by decision-rule.txt.
set -u
RUN=$1; B=$RUN/bundle; O=$RUN/eval; mkdir -p $O
cd /work/main
PY=.venv/bin/python
if [ $# -lt 3 ]; then
  $PY benchmarks/thresholds.py --json --model $B --split valid --backend opencv 2>/dev/null | tail -1 > $O/thresholds-valid.json
  .venv/bin/gunwatch eval --data /work/shared/datasets/pistols --split valid --model $B --backend opencv > $O/eval-valid.txt 2>&1
  .venv/bin/gunwatch eval --data /var/tmp/gunwatch-data/cctv-guns --split heldout --model $B --backend opencv > $O/eval-cctv-guns-v2-heldout.txt 2>&1
  echo "now pick the point from $O/thresholds-valid.json and run: $0 $RUN CONF NMS"; exit 0
fi
CONF=$2; NMS=$3
$PY benchmarks/gun_free.py --json --model $B --confidence $CONF --nms $NMS 2>/dev/null | tail -1 > $O/gunfree-valid.json
for d in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $B --split none --folder /var/tmp/gunwatch-data/$d/images/heldout --confidence $CONF --nms $NMS 2>/dev/null | tail -1 > $O/gunfree-$d.json
done
$PY benchmarks/small_guns.py --json --modes whole,auto --confidences $CONF,0.35 --model $B > $O/small-guns.json 2>/dev/null
echo done
