#!/bin/bash
# Candidate 7's run: the shipped yolov4-tiny member (yolov4-tiny-s28, iteration 200 of its run)
# trained on for 1,200 iterations of batch 64 on the same data, at half its learning rate
# (0.0005), with seed 29. start-v4.* are the shipped member's model.weights and model.cfg;
# v4-s29.cfg is that cfg with learning_rate=0.0005, batch=64, subdivisions=4.
# `--resume` (v4-s29-resume.sh) continues it after any interruption.
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v4-s29 \
    --engine torch --data /var/tmp/gunwatch-train/data-cam/obj.data --cfg /var/tmp/gunwatch-train/v4-s29.cfg \
    --weights /var/tmp/gunwatch-train/start-v4.weights --weights-cfg /var/tmp/gunwatch-train/start-v4.cfg \
    --iterations 1200 --subdivisions 4 --size 416 --threads 2 \
    --unfreeze-at 0 --multi-scale 320 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 100 --seed 29 \
    --name gun-yolov4-tiny-s29
