#!/bin/bash
# Candidate 5's run: the shipped yolov3-tiny member (yolov3-tiny-s27, iteration 300 of its run)
# trained on for 1,000 iterations of batch 64 on the same data, at half its learning rate, with
# seed 28 (seed 0 would replay v3-s27's batches in the same order).
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v3-s28 \
    --engine torch --data /var/tmp/gunwatch-train/data-cam/obj.data --cfg /var/tmp/gunwatch-train/v3-s28.cfg \
    --weights /var/tmp/gunwatch-train/start-v3.weights --weights-cfg /var/tmp/gunwatch-train/start-v3.cfg \
    --iterations 1000 --subdivisions 4 --size 416 --threads 2 \
    --unfreeze-at 0 --multi-scale 288 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 100 --seed 28 \
    --name gun-yolov3-tiny-s28
