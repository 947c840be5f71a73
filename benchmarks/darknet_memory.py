"""Native memory over many frames: does the darknet backend free what libdarknet allocates?

Runs N frames (default 5,000) through the darknet backend and, as the baseline in the same run,
through the opencv backend, each in its own process, and samples the process RSS. A leak of the
detection array (get_network_boxes / free_detections) or of images shows as steady growth; the
figure that matters is the growth after warm-up, in MB per 1,000 frames.

The network runs at a small input size (default 160x160) with a low threshold (0.05, many boxes
per frame) so that 5,000 calls into the library finish in minutes on a CPU: what leaks is per
call, not per pixel.

    python benchmarks/darknet_memory.py --json [--frames 5000] [--size 160]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import cv2

WARMUP = 200
SAMPLES = 20


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_backend(backend: str, model_ref: str, frames: int, size: int, photos: list[str], queue) -> None:
    from gunwatch.detectors.base import DetectorSettings
    from gunwatch.detectors.select import create_detector
    from gunwatch.model import InputSpec, load_model

    model = load_model(model_ref)
    small = model.model_copy(update={"meta": model.meta.model_copy(update={
        "input": InputSpec(width=size, height=size, letterbox=model.meta.input.letterbox, rect=False)})})
    detector = create_detector(backend, small, DetectorSettings(confidence=0.05))
    images = [cv2.imread(p) for p in photos]
    trace, boxes = [], 0
    started = time.perf_counter()
    every = max(1, (frames - WARMUP) // SAMPLES)
    for i in range(frames):
        boxes += len(detector.detect(images[i % len(images)]))
        if i == WARMUP or (i > WARMUP and (i - WARMUP) % every == 0) or i == frames - 1:
            trace.append((i + 1, round(rss_mb(), 2)))
    detector.close()
    elapsed = time.perf_counter() - started
    (f0, r0), (f1, r1) = trace[0], trace[-1]
    queue.put({"frames": frames, "boxes": boxes, "seconds": round(elapsed, 1),
               "rss_after_warmup_mb": r0, "rss_end_mb": r1, "growth_mb": round(r1 - r0, 2),
               "growth_mb_per_1000_frames": round((r1 - r0) / max(f1 - f0, 1) * 1000, 3),
               "trace": trace})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[1].parent / "shared/weights/yolov3-tiny.cfg"))
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--size", type=int, default=160, help="network input, multiple of 32")
    parser.add_argument("--images", default="/usr/share/darknet/data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    photos = sorted(str(p) for p in Path(args.images).glob("*.jpg"))[:6]
    ctx = multiprocessing.get_context("spawn")
    results = {}
    for backend in ("darknet", "opencv"):
        queue = ctx.Queue()
        child = ctx.Process(target=run_backend, args=(backend, args.model, args.frames, args.size, photos, queue))
        child.start()
        results[backend] = queue.get()
        child.join()
        if not args.json:
            r = results[backend]
            print(f"{backend:>8}: {r['frames']} frames in {r['seconds']} s, RSS {r['rss_after_warmup_mb']} -> "
                  f"{r['rss_end_mb']} MB ({r['growth_mb_per_1000_frames']} MB / 1000 frames)")
    darknet = results["darknet"]
    report = {"name": "darknet_memory", "params": vars(args), "n": args.frames,
              "darknet": darknet, "baseline_opencv": results["opencv"],
              # "does not grow": under 1 MB over the whole run after warm-up (allocator noise)
              "ok": darknet["growth_mb"] < 1.0}
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
