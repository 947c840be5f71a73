#!/bin/bash
# Candidate 4's run: the shipped yolov4-tiny member (yolov4-tiny-s26) trained on for 800 more
# iterations of batch 64 on the same data, at half its learning rate, with another seed (seed 0
# would replay v4-s26's batches in the same order).
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v4-s28 \
    --engine torch --data /var/tmp/gunwatch-train/data-cam/obj.data --cfg /var/tmp/gunwatch-train/v4-s28.cfg \
    --weights /var/tmp/gunwatch-train/start-v4.weights --weights-cfg /var/tmp/gunwatch-train/start-v4.cfg \
    --iterations 800 --subdivisions 4 --size 416 --threads 2 \
    --unfreeze-at 0 --multi-scale 320 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 100 --seed 28 \
    --name gun-yolov4-tiny-s28
