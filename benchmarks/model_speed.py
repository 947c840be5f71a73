"""Is a candidate model at least as fast as the baseline model on this CPU? (the gun-model issue:
"a better darknet-format model that runs at least as fast").

Both models run through the same backend on the same 1080p JPEGs, end to end (decode,
pre-processing, inference, post-processing), frame by frame in alternation, so a noisy
neighbour slows both alike instead of one of them.

    python benchmarks/model_speed.py --json --candidate gun-yolov4-tiny [--baseline gun-yolov3-tiny]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gunwatch.cli import bench
from gunwatch.detectors.select import create_detector
from gunwatch.model import load_model

WARM_UP_FRAMES = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", required=True, help="model reference to measure")
    parser.add_argument("--baseline", default="gun-yolov3-tiny", help="model to compare against")
    parser.add_argument("--backend", default="opencv", help="detector backend for both (default: opencv)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--images", help="pictures to build the 1080p frames from")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    models = {"baseline": load_model(args.baseline), "candidate": load_model(args.candidate)}
    detectors = {role: create_detector(args.backend, model) for role, model in models.items()}
    frames = bench.make_frames(Path(args.images) if args.images else None, args.frames + WARM_UP_FRAMES)
    samples: dict[str, list[float]] = {role: [] for role in models}
    for index, jpeg in enumerate(frames):
        # Alternate which model goes first, so neither always runs on a cache the other warmed.
        order = list(models) if index % 2 == 0 else list(reversed(models))
        for role in order:
            ms = bench.time_detection(detectors[role], models[role], jpeg)
            if index >= WARM_UP_FRAMES:
                samples[role].append(ms)
    for detector in detectors.values():
        detector.close()

    p50 = {role: float(np.percentile(s, 50)) for role, s in samples.items()}
    paired = np.asarray(samples["candidate"]) / np.asarray(samples["baseline"])
    report = {
        "name": "model_speed", "device": bench.describe_device(), "backend": args.backend,
        "params": {"frames": args.frames, "input": "1920x1080 JPEG"}, "n": args.frames,
        **{role: {"model": models[role].name, "p50_ms": round(p50[role], 2),
                  "p95_ms": round(float(np.percentile(samples[role], 95)), 2),
                  "mean_ms": round(float(np.mean(samples[role])), 2)} for role in models},
        "ratio_p50": round(p50["candidate"] / p50["baseline"], 3),
        # a detector whose cost depends on the frame (a second look only on some) shows its
        # price in the mean, which is what a CPU watching many frames pays
        "ratio_mean": round(float(np.mean(samples["candidate"]) / np.mean(samples["baseline"])), 3),
        "ratio_median_paired": round(float(np.median(paired)), 3),
    }
    if not args.json:
        for role in ("baseline", "candidate"):
            r = report[role]
            print(f"{role:>9} {r['model']}: {r['p50_ms']} ms p50, {r['p95_ms']} ms p95")
        print(f"candidate / baseline: x{report['ratio_p50']} (median of per-frame ratios "
              f"x{report['ratio_median_paired']})")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
