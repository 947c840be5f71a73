#!/bin/bash
# Only if candidate 7 passes its own rule (decision-rule-8.txt, last paragraph): candidate 7's
# pair (yolov3-tiny-s27 + v4-s29) with the default's mirrored looks at trigger 0.30, valid side.
set -eu
cd /work/main
PY=.venv/bin/python
W=/var/tmp/ens7; E=$W/gun-tiny-ensemble-c7m; mkdir -p $E
cat > $E/model.json <<JSON
{"name": "gun-tiny-ensemble-c7m", "classes": ["gun"],
 "ensemble": {"members": ["/work/main/models/gun-tiny-ensemble/yolov3-tiny-s27", "/var/tmp/gunwatch-train/v4-s29/bundle"], "fusion_iou": 0.5, "member_confidence": 0.05, "mirrored": true, "mirror_trigger": 0.30},
 "thresholds": {"confidence": 0.4, "nms": 0.45}}
JSON
GRID=$(python3 -c "print(','.join(f'{c/100:.2f}' for c in range(30, 71)))")
$PY benchmarks/thresholds.py --json --model $E --split valid --nms 0.45 --confidence $GRID --at-precision 0.95,0.955,0.96,0.97 2>/dev/null | tail -1 > $W/c7m-thresholds-valid-nms0.45.json
$PY benchmarks/gun_free.py --json --model $E --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/c7m-gunfree-valid-0.30.json
for part in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $E --split none --folder /var/tmp/gunwatch-data/$part/images/heldout \
      --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/c7m-gunfree-$part-0.30.json
done
echo combined-valid-done
