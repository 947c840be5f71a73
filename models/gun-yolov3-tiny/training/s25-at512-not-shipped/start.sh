#!/bin/bash
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v3-s25at512 \
    --engine torch --data /var/tmp/gunwatch-train/data-cam/obj.data --cfg /var/tmp/gunwatch-train/v3-300-512.cfg \
    --weights /var/tmp/gunwatch-train/start.weights --weights-cfg /var/tmp/gunwatch-train/start.cfg \
    --iterations 300 --subdivisions 4 --size 512 --threads 2 \
    --unfreeze-at 0 --multi-scale 384 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 100 \
    --name gun-yolov3-tiny-s25at512
