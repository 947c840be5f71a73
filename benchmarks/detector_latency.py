"""Detector latency on this machine: every backend against the seed study's cv2.dnn loop.

The same measurement as `gunwatch bench`, plus the foundation issue's targets: the best backend's
end-to-end time for a 1080p JPEG (decode + pre-processing + inference + post-processing) within
1.15x of the baseline's pure inference time, and at least 10 frames/s. `darknet_families` adds a
row per libdarknet.so found (every library in gunwatch's search order, or each --darknet-lib):
its family, version and layout, and the darknet backend's time through it on the same frames.

    python benchmarks/detector_latency.py --json [--model M] [--frames N] [--darknet-lib SO ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gunwatch.cli import bench
from gunwatch.darknet import library as darknet_library
from gunwatch.errors import GunwatchError
from gunwatch.detectors.select import backend_names
from gunwatch.model import load_model

TARGET_RATIO = 1.15
TARGET_FPS = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model reference (default: the bundled gun model)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--images", help="pictures to build the 1080p frames from")
    parser.add_argument("--darknet-lib", action="append", default=[],
                        help="a libdarknet.so to measure (repeat; default: every one gunwatch's search finds)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model)
    measured = bench.report(model, args.frames, backend_names(), Path(args.images) if args.images else None,
                            show_progress=not args.json)
    results, baseline, baseline_ms = measured["backends"], measured["baseline"], measured["baseline_ms"]
    frames = bench.make_frames(Path(args.images) if args.images else None, args.frames + 2)
    families = [family_row(Path(path), model, frames, baseline_ms) for path in
                args.darknet_lib or [p for p in darknet_library.candidate_paths() if p.exists()]]
    best_name, best = min(((n, r) for n, r in results.items() if "p50_ms" in r), key=lambda nr: nr[1]["p50_ms"])
    report = {
        "name": "detector_latency", "device": bench.describe_device(), "model": model.name,
        "params": {"frames": args.frames, "input": "1920x1080 JPEG"}, "n": args.frames,
        "baseline_ms": baseline_ms, "baseline": baseline, "backends": results, "best_backend": best_name,
        "darknet_families": families,
        "targets": {"ratio_to_baseline": TARGET_RATIO, "fps": TARGET_FPS},
        "ok": best["ratio_to_baseline"] <= TARGET_RATIO and best["fps"] >= TARGET_FPS,
    }
    if not args.json:
        print(f"baseline pure inference p50 {baseline_ms} ms; end to end {baseline['end_to_end']['p50_ms']} ms")
        for name, r in results.items():
            print(f"{name:>8}: {r.get('p50_ms')} ms p50, {r.get('p95_ms')} ms p95, {r.get('fps')} fps, "
                  f"x{r.get('ratio_to_baseline')} of baseline, peak RSS {r.get('peak_rss_mb')} MB")
        for r in families:
            print(f"darknet {r['family']:>8}: {r.get('p50_ms', r.get('error'))} ms p50 ({r['path']})")
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def family_row(path: Path, model, frames: list[bytes], baseline_ms: float) -> dict:
    """The darknet backend through one library, in its own process like every backend."""
    try:
        found = darknet_library.load_library(path)
    except GunwatchError as exc:
        return {"family": "-", "version": "-", "path": str(path), "error": str(exc)}
    result = bench.measure_all(model, frames, ["darknet"], str(path), show_progress=False)["darknet"]
    row = {"family": found.variant, "version": found.api.version, "path": str(path), **result}
    if "p50_ms" in row:
        row["ratio_to_baseline"] = round(row["p50_ms"] / baseline_ms, 3)
    return row


if __name__ == "__main__":
    sys.exit(main())
