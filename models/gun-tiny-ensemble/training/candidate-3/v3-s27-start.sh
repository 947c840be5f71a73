#!/bin/bash
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v3-s27 \
    --engine torch --data /var/tmp/gunwatch-train/data-cam/obj.data --cfg /var/tmp/gunwatch-train/v3-1000.cfg \
    --weights /var/tmp/gunwatch-train/start.weights --weights-cfg /var/tmp/gunwatch-train/start.cfg \
    --iterations 1000 --subdivisions 4 --size 416 --threads 2 \
    --unfreeze-at 0 --multi-scale 288 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 100 \
    --name gun-yolov3-tiny-s27
