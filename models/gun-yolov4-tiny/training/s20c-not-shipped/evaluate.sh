#!/bin/bash
# evaluate.sh RUN CONF : valid-side figures of a finished run's bundle (never test)
set -u
RUN=$1; CONF=${2:-0.55}; B=$RUN/bundle; O=$RUN/eval; mkdir -p $O
cd /work/main
PY=.venv/bin/python
.venv/bin/gunwatch eval --data /work/shared/datasets/pistols --split valid --model $B --backend opencv > $O/eval-valid.txt 2>&1
$PY benchmarks/thresholds.py --json --model $B --split valid --backend opencv 2>/dev/null | tail -1 > $O/thresholds-valid.json
.venv/bin/gunwatch eval --data /var/tmp/gunwatch-data/cctv-guns --split heldout --model $B --backend opencv > $O/eval-cctv-guns-heldout.txt 2>&1
$PY benchmarks/gun_free.py --json --model $B --confidence $CONF 2>/dev/null | tail -1 > $O/gunfree-valid.json
for d in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $B --split none --folder /var/tmp/gunwatch-data/$d/images/heldout --confidence $CONF 2>/dev/null | tail -1 > $O/gunfree-$d.json
done
echo done
