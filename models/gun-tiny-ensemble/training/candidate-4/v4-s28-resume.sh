#!/bin/bash
# v4-s28 was stopped (SIGTERM) at iteration 46 of 800, before its first valid score, once its
# speed here (~2 s per iteration) showed 1,600 iterations fit the session; resumed to 1,600
# (the lr steps move to 80 % and 90 %: 1,280 and 1,440). Also continues it after any interruption.
cd /var/tmp/gunwatch-train
export PYTHONPATH=/var/tmp/gunwatch-train/code
exec nice -n 19 /work/main/.venv/bin/python -m gunwatch train run /var/tmp/gunwatch-train/v4-s28 --resume --iterations 1600
