"""How fast does the torch engine's loader build training batches, one thread (the baseline)
against a thread pool (`torch_train --loader-threads N`)?

On a GPU the network's step for a batch of 64 at 416 takes tens of milliseconds, so the
loader, which decodes, jitters, recolours and flips every picture, sets the pace. The rows
alternate batch by batch so that a noisy neighbour slows both alike, and the batches are
identical in every row (one generator per picture; tests/unit/training/test_data.py).

    python benchmarks/train_loader.py --json [--threads 2,4] [--batches 8] [--list TRAIN.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from gunwatch.darknet.files import read_list
from gunwatch.training.data.loader import Augment, DetectionData, labelled
from gunwatch.training.data.split import split_images

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pistols"
BATCH = 64


def train_pictures(list_file: str | None) -> list[tuple[Path, Path]]:
    if list_file:
        return labelled(read_list(list_file))
    return labelled(split_images(DATASET / "splits.csv", "train"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2,4", help="pool sizes to measure beside one thread")
    parser.add_argument("--batches", type=int, default=8, help="batches of 64 per row")
    parser.add_argument("--mosaic", type=float, default=0.0, help="share of mosaic pictures")
    parser.add_argument("--list", help="darknet train list (default: the pistols train split)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cv2.setNumThreads(1)  # as torch_train: the parallelism under test is the pool's
    data = DetectionData(train_pictures(args.list), (416, 416), Augment(jitter=0.2), mosaic=args.mosaic)
    sizes = [1] + [int(t) for t in args.threads.split(",")]
    pools = {n: ThreadPoolExecutor(n) if n > 1 else None for n in sizes}
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    order = random.Random(0).sample(range(len(data)), min(len(data), BATCH * args.batches))
    for i in order:  # from the page cache for every row: no row pays for the disk
        data.pairs[i][0].read_bytes()
    for b in range(args.batches):
        indices = [order[(b * BATCH + k) % len(order)] for k in range(BATCH)]
        for n in sizes:
            pool = pools[n]
            start = time.perf_counter()
            data.batch(indices, random.Random(b), pool.map if pool else map)
            seconds[n].append(time.perf_counter() - start)
    for pool in pools.values():
        if pool:
            pool.shutdown()

    base = float(np.median(seconds[1]))
    rows = {str(n): {"ms_per_batch_p50": round(1000 * float(np.median(s)), 1),
                     "pictures_per_s": round(BATCH / float(np.median(s)), 1),
                     "speedup": round(base / float(np.median(s)), 2)} for n, s in seconds.items()}
    report = {"name": "train_loader", "cpus": os.cpu_count(), "batch": BATCH, "batches": args.batches,
              "mosaic": args.mosaic, "baseline": "1 thread", "threads": rows}
    if args.json:
        print(json.dumps(report))
    else:
        for n, row in rows.items():
            print(f"{n:>2} thread(s): {row['ms_per_batch_p50']:7.1f} ms per batch of {BATCH}, "
                  f"{row['pictures_per_s']:6.1f} pictures/s, x{row['speedup']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
