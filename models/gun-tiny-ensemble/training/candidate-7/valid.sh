#!/bin/bash
# Candidate 7's valid-side figures (decision-rule-7.txt). Test is not touched here.
# The gun-free runs use a low confidence on purpose: each boxed picture's surest confidence is
# kept (boxed_confidences), so the count at the rule's point is read without a rerun.
set -eu
cd /work/main
PY=.venv/bin/python
W=/var/tmp/ens7; E=$W/gun-tiny-ensemble-c7; mkdir -p $E
cat > $E/model.json <<JSON
{"name": "gun-tiny-ensemble-c7", "classes": ["gun"],
 "ensemble": {"members": ["/work/main/models/gun-tiny-ensemble/yolov3-tiny-s27", "/var/tmp/gunwatch-train/v4-s29/bundle"], "fusion_iou": 0.5, "member_confidence": 0.05},
 "thresholds": {"confidence": 0.4, "nms": 0.45}}
JSON
GRID=$(python3 -c "print(','.join(f'{c/100:.2f}' for c in range(30, 71)))")
$PY benchmarks/thresholds.py --json --model $E --split valid --nms 0.45 --confidence $GRID --at-precision 0.95,0.955,0.96,0.97 2>/dev/null | tail -1 > $W/thresholds-valid-nms0.45.json &
$PY benchmarks/gun_free.py --json --model $E --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/gunfree-valid-0.30.json
wait
for part in cctv-people phone-wallet; do
  $PY benchmarks/gun_free.py --json --model $E --split none --folder /var/tmp/gunwatch-data/$part/images/heldout \
      --confidence 0.30 --nms 0.45 --baseline none 2>/dev/null | tail -1 > $W/gunfree-$part-0.30.json
done
echo valid-done
