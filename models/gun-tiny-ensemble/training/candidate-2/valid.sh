#!/bin/bash
# Candidate 2's valid-side figures (decision-rule-2.txt). Test is not touched here.
set -eu
cd /work/main
PY=.venv/bin/python
E=/var/tmp/ens2/gun-tiny-ensemble-c2; mkdir -p $E
cat > $E/model.json <<JSON
{"name": "gun-tiny-ensemble-c2", "classes": ["gun"],
 "ensemble": {"members": ["gun-yolov3-tiny", "/var/tmp/gunwatch-train/v4-s26/bundle"], "fusion_iou": 0.5, "member_confidence": 0.05},
 "thresholds": {"confidence": 0.4, "nms": 0.45}}
JSON
GRID=$(python3 -c "print(','.join(f'{c/100:.2f}' for c in range(38, 71)))")
$PY benchmarks/thresholds.py --json --model $E --split valid --nms 0.45 --confidence $GRID --at-precision 0.95,0.955,0.96,0.97 2>/dev/null | tail -1 > /var/tmp/ens2/thresholds-valid.json &
$PY benchmarks/gun_free.py --json --model $E --confidence 0.38 --nms 0.45 --baseline none 2>/dev/null | tail -1 > /var/tmp/ens2/gunfree-valid-0.38.json
wait
echo valid-done
