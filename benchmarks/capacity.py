"""How many cameras does one machine hold at 1 analysed frame per second, with `whole` frames
(the baseline) and with `person` regions?

Each camera is a real stream source playing a local 1080p clip (looped, at the clip's own 5 fps,
decoded by FFmpeg like a camera's stream) through the whole running pipeline (`gunwatch run`'s
App: inbox, region stage, detector, confirmation, incident log). The clip shows people holding
guns, small and walking in a wide scene (the small_guns benchmark's composites), so person
regions have people to crop and no analysed frame is still. For a growing number of cameras the benchmark measures, after a warm-up, each
camera's analysed frames per second and the lag from a frame's capture to the end of its
analysis. A count holds when every camera keeps >= 0.9 analysed fps and the p95 lag is < 1 s.

    python benchmarks/capacity.py --json [--cameras 1,2,4,6,8,10,12] [--seconds 30]
        [--modes whole,auto,whole+person] [--backends opencv,torch] [--person-input 416] [--model M]

A mode is a camera's `regions.modes`, several joined by `+`: `whole` is the baseline (the
pipeline before regions), `auto` the default (person crops, the whole frame when nobody is
found), `whole+person` both on every frame. Each mode runs on each detector backend (gun and
person model alike); `whole` on the first backend is the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from small_guns import backdrops, composite, held_guns  # noqa: E402  (benchmarks are scripts)

from gunwatch.app import App  # noqa: E402
from gunwatch.config import GunwatchConfig  # noqa: E402
from gunwatch.detectors.select import create_detector  # noqa: E402
from gunwatch.model import load_model  # noqa: E402

CLIP_FPS = 5
SCENE_S = 4          # each scene lasts this long in the clip
WALK_PX = 12         # per clip frame: 60 px/s, a person walking some 10 m from the camera
WARM_UP_S = 8.0
FPS_FLOOR = 0.9      # a camera analysed at less than this (of 1 fps) is not held
LAG_LIMIT_S = 1.0


def make_clip(path: Path, scenes: int = 12) -> None:
    """A looping 1080p clip: in each scene a person holding a small gun walks across a backdrop
    (WALK_PX per clip frame), so every analysed frame differs from the last and the person
    pass cannot be skipped as it is in a still scene: the costly case."""
    person = create_detector("opencv", load_model("person-yolov4-tiny"))
    pictures = held_guns(person, "test")
    person.close()
    scenery = backdrops()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, (1920, 1080))
    for k in range(scenes):
        picture, boxes = pictures[k % len(pictures)]
        for step in range(SCENE_S * CLIP_FPS):
            rng = np.random.default_rng(k)  # the same start each step: only the walk moves it
            frame, _, _ = composite(scenery[k % len(scenery)], picture, boxes, 15 + 65 * (k % 4) / 3,
                                    rng, shift=(WALK_PX * step, 0))
            writer.write(frame)
    writer.release()


class LagSink:
    """Records, per analysed frame, its camera, when it was captured and when analysis ended."""

    name = "lag"

    def __init__(self):
        self.rows: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()

    def handle(self, frame, detections, confirmations) -> None:
        with self.lock:
            self.rows.append((frame.camera, frame.at, time.time()))

    def close(self) -> None:
        pass


def trial(clip: Path, cameras: int, mode: str, backend: str, seconds: float, state: Path,
          person_input: int | None, model: str | None) -> dict:
    detector = {"backend": backend, "person_backend": backend, "model": model}
    if person_input:
        detector["person_input"] = person_input
    config = GunwatchConfig.model_validate({
        "state_dir": str(state), "metrics": {"enabled": False}, "detector": detector,
        "sources": [{"type": "stream", "camera": f"cam{i}", "url": str(clip), "fps": 1.0, "loop": True}
                    for i in range(cameras)],
        "defaults": {"regions": {"modes": mode.split("+")},
                     "confirm": {"cooldown_s": 3600}}})
    sink = LagSink()
    app = App(config, extra_sinks=[sink])
    started = time.time()
    app.run(duration=WARM_UP_S + seconds)
    with sink.lock:
        rows = [r for r in sink.rows if r[1] >= started + WARM_UP_S]
    lags = [done - at for _, at, done in rows]
    per_camera = [sum(1 for c, _, _ in rows if c == f"cam{i}") / seconds for i in range(cameras)]
    counters = app.runner.counters
    ms = sorted(counters.detect_ms)
    return {"cameras": cameras, "analysed_fps_min": round(min(per_camera), 3),
            "analysed_fps_total": round(sum(per_camera), 2),
            "p95_lag_s": round(float(np.percentile(lags, 95)), 3) if lags else None,
            "ms_per_frame": round(float(np.median(ms)), 1) if ms else None,
            "ms_per_frame_mean": round(float(np.mean(ms)), 1) if ms else None,
            "person_ms_mean": round(float(np.mean(counters.person_ms)), 1) if counters.person_ms else None,
            "gun_ms_mean": round(float(np.mean(counters.gun_ms)), 1) if counters.gun_ms else None,
            "regions_per_frame": round(float(np.mean(counters.regions)), 2) if counters.regions else None,
            "person_passes_per_frame": round(len(counters.person_ms) / len(ms), 2) if ms else None,
            "held": bool(lags) and min(per_camera) >= FPS_FLOOR and float(np.percentile(lags, 95)) < LAG_LIMIT_S}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,2,4,6,8,10,12", help="camera counts to try, ascending")
    parser.add_argument("--modes", default="whole,auto,whole+person",
                        help="region modes to compare, `+` joining the modes of one run")
    parser.add_argument("--backends", default="opencv,torch", help="detector backends to compare")
    parser.add_argument("--person-input", type=int, help="person model input side (default: the config's)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per trial")
    parser.add_argument("--model", help="gun model (default: the default model)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.cameras.split(","))
    modes = args.modes.split(",")
    backends = args.backends.split(",")  # whole on the first one is the baseline, always run
    report = {"name": "capacity", "params": {"clip": f"1920x1080 mp4v at {CLIP_FPS} fps, looped",
                                             "analysed_fps_per_camera": 1.0, "seconds": args.seconds,
                                             "warm_up_s": WARM_UP_S, "fps_floor": FPS_FLOOR,
                                             "lag_limit_s": LAG_LIMIT_S, "person_input": args.person_input,
                                             "model": args.model},
              "baseline": f"whole/{backends[0]}", "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "scene.mp4"
        make_clip(clip)
        for mode, backend in [("whole", backends[0])] + [(m, b) for m in modes for b in backends
                                                          if (m, b) != ("whole", backends[0])]:
            trials = []
            for count in counts:
                result = trial(clip, count, mode, backend, args.seconds,
                               Path(tmp) / f"state-{mode}-{backend}-{count}", args.person_input, args.model)
                trials.append(result)
                if not args.json:
                    print(f"{mode}/{backend} x{count}: {result}", file=sys.stderr)
                if not result["held"]:
                    break  # more cameras will not be held either
            held = [t for t in trials if t["held"]]
            best = held[-1] if held else None
            report["modes"][f"{mode}/{backend}"] = {"cameras_at_1fps": best["cameras"] if best else 0,
                                     "p95_lag_s": best["p95_lag_s"] if best else None,
                                     "ms_per_frame": best["ms_per_frame"] if best else trials[0]["ms_per_frame"],
                                     "trials": trials}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
