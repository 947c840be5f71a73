#!/bin/bash
# Candidate 8's valid-side figures (decision-rule-8.txt): the shipped members, mirrored looks
# only where the plain fusion has a box >= 0.30. Test is not touched here. The gun-free runs use
# a low confidence on purpose (each boxed picture's surest confidence is kept), so the count at
# the rule's point is read without a rerun; the trigger does not depend on that confidence.
set -eu
cd /work/main
PY=.venv/bin/python
HERE=models/gun-tiny-ensemble/training/candidate-8
W=/var/tmp/ens8; E=$W/gun-tiny-ensemble-c8; mkdir -p $E
cp $HERE/candidate-model.json $E/model.json
GRID=$(python3 -c "print(','.join(f'{c/100:.2f}' for c in range(30, 71)))")
$PY benchmarks/thresholds.py --json --model $E --split valid --nms 0.45 --confidence $GRID --at-precision 0.95,0.955,0.96,0.97 2>/dev/null | tail -1 > $W/thresholds-valid-nms0.45.json
$PY benchmarks/gun_free.py --json --model $E --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/gunfree-valid-0.30.json
for part in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $E --split none --folder /var/tmp/gunwatch-data/$part/images/heldout \
      --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/gunfree-$part-0.30.json
done
$PY benchmarks/model_speed.py --json --candidate $E --baseline gun-tiny-ensemble \
    --images /var/tmp/gunwatch-data/cctv-people/images/heldout 2>/dev/null | tail -1 > $W/model-speed-cctv-people.json
echo valid-done
