#!/bin/bash
# Continues candidate 7's run after an interruption (same schedule, data order and augmentation).
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v4-s29 --resume
