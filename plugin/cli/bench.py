"""`gunwatch bench`: every backend against the seed study's plain OpenCV loop, same frames."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import resource
import time
from pathlib import Path

import cv2
import numpy as np

from .. import __version__
from ..detectors.select import backend_names, create_detector
from ..decode import decode_for_detection
from ..detectors.base import DetectorSettings
from ..errors import ConfigError, GunwatchError
from ..machine import describe_cpu
from ..model import AnyModel, EnsembleBundle, ModelBundle
from ..progress import Progress
from . import options

log = logging.getLogger(__name__)

DESCRIPTION = """\
Measure detection speed on this machine. Every available backend and a baseline run one after
the other, each in its own process (so peak memory is its own), on the same 1080p JPEG frames.

The baseline is the seed study's loop: cv2.dnn blobFromImage (1/255, 416x416, swapRB), forward,
numpy decode, NMSBoxes. Its `pure inference` time is forward() alone. Each backend is timed end
to end as gunwatch runs it: JPEG decode (at the reduced scale the network needs) +
pre-processing + inference + post-processing, i.e. what a recorder's snapshot costs. ratio_to_baseline = backend p50 / baseline pure-inference p50."""

EXAMPLES = """\
examples:
  gunwatch bench --frames 50
  gunwatch bench --model ../shared/weights/yolov3-tiny.cfg --json

JSON keys: backends.NAME.{p50_ms, p95_ms, fps, peak_rss_mb, ratio_to_baseline},
baseline_ms (pure inference p50), baseline.{...}, frames, model, device."""

FRAME_SIZE = (1920, 1080)
DEFAULT_IMAGE_DIRS = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "pistols" / "images",
    Path("/usr/share/darknet/data"),
)


def add_parser(sub) -> None:
    parser = sub.add_parser("bench", help="measure every backend against the seed's OpenCV loop",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_model_options(parser)
    parser.add_argument("--frames", type=options.positive_int, default=30, metavar="N",
                        help="timed frames per backend, after 2 warm-up frames (default 30)")
    parser.add_argument("--images", type=Path, metavar="DIR",
                        help="pictures to build the 1080p frames from (default: the pistols "
                             "dataset if present, else darknet's sample images)")
    parser.add_argument("--backends", metavar="LIST",
                        help="comma-separated backends to measure (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(run=run)


def make_frames(image_dir: Path | None, count: int) -> list[bytes]:
    """1080p JPEGs built from pictures: cover-resized, with mild sensor-like noise so the JPEG
    costs what a camera frame costs to decode."""
    dirs = [image_dir] if image_dir else [d for d in DEFAULT_IMAGE_DIRS if d.is_dir()]
    pictures = []
    for folder in dirs:
        pictures = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if pictures:
            break
    if not pictures:
        raise ConfigError(f"no pictures found in {', '.join(map(str, dirs)) or 'any default folder'}; "
                          "pass --images DIR")
    rng = np.random.default_rng(1)
    chosen = [pictures[i] for i in rng.choice(len(pictures), size=min(count, len(pictures)), replace=False)]
    frames = []
    for path in chosen:
        picture = cv2.imread(str(path))
        if picture is None:
            continue
        w, h = FRAME_SIZE
        scale = max(w / picture.shape[1], h / picture.shape[0])
        big = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
        frame = big[y0:y0 + h, x0:x0 + w].astype(np.int16)
        frame += rng.normal(0, 3, frame.shape).astype(np.int16)
        ok, jpeg = cv2.imencode(".jpg", np.clip(frame, 0, 255).astype(np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, 85])
        frames.append(jpeg.tobytes())
    while len(frames) < count:
        frames.extend(frames[: count - len(frames)])
    return frames


def _percentiles(samples: list[float]) -> dict:
    arr = np.asarray(samples)
    p50 = float(np.percentile(arr, 50))
    return {"p50_ms": round(p50, 2), "p95_ms": round(float(np.percentile(arr, 95)), 2),
            "mean_ms": round(float(arr.mean()), 2), "fps": round(1000 / p50, 2) if p50 else None}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _seed_loop(model: ModelBundle, frames: list[bytes], conf: float, nms: float) -> dict:
    """The seed study's detection loop, kept deliberately plain: it is the yardstick."""
    net = cv2.dnn.readNetFromDarknet(str(model.cfg), str(model.weights))
    layer_names = net.getUnconnectedOutLayersNames()
    size = (model.meta.input.width, model.meta.input.height)
    total, forward = [], []
    for i, jpeg in enumerate(frames):
        t0 = time.perf_counter()
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]
        net.setInput(cv2.dnn.blobFromImage(image, 1 / 255.0, size, swapRB=True, crop=False))
        t1 = time.perf_counter()
        outputs = net.forward(layer_names)
        t2 = time.perf_counter()
        boxes, confidences = [], []
        for output in outputs:
            for row in output:
                scores = row[5:]
                class_id = int(np.argmax(scores))
                if scores[class_id] > conf:
                    cx, cy, w, h = row[:4] * np.array([width, height, width, height])
                    boxes.append([int(cx - w / 2), int(cy - h / 2), int(w), int(h)])
                    confidences.append(float(scores[class_id]))
        cv2.dnn.NMSBoxes(boxes, confidences, conf, nms)
        t3 = time.perf_counter()
        if i >= 2:  # warm-up frames allocate buffers
            total.append((t3 - t0) * 1000)
            forward.append((t2 - t1) * 1000)
    return {"end_to_end": _percentiles(total), "pure_inference": _percentiles(forward)}


def time_detection(detector, model: AnyModel, jpeg: bytes) -> float:
    """Milliseconds for one frame as the plugin handles it: decode, detect, boxes back to the
    frame's pixels."""
    start = time.perf_counter()
    image, sx, sy = decode_for_detection(jpeg, model.meta.input)
    [d.scaled(sx, sy) for d in detector.detect(image)]
    return (time.perf_counter() - start) * 1000


def _measure(kind: str, model: AnyModel, frames: list[bytes], library: str | None, queue) -> None:
    """Runs in a child process; puts one result dict on the queue."""
    try:
        conf, nms = DetectorSettings().resolve(model)
        if kind == "baseline":
            # An ensemble's yardstick is the seed loop on its first member: the ratio then says
            # what running several networks costs against the seed's one.
            single = model.members[0] if isinstance(model, EnsembleBundle) else model
            result = _seed_loop(single, frames, conf, nms)
            result.update(result["end_to_end"])
        else:
            detector = create_detector(kind, model, library=library)
            samples = [time_detection(detector, model, jpeg) for jpeg in frames][2:]
            result = {**_percentiles(samples), "device": detector.device}
            detector.close()
        result["peak_rss_mb"] = _peak_rss_mb()
        queue.put((kind, result))
    except GunwatchError as exc:
        queue.put((kind, {"error": str(exc)}))


def measure_all(model: AnyModel, frames: list[bytes], kinds: list[str], library: str | None,
                show_progress: bool = True) -> dict:
    ctx = multiprocessing.get_context("spawn")
    results = {}
    progress = Progress(len(kinds), "bench", enabled=None if show_progress else False)
    for kind in kinds:
        queue = ctx.Queue()
        child = ctx.Process(target=_measure, args=(kind, model, frames, library, queue))
        child.start()
        child.join()
        results[kind] = queue.get()[1] if not queue.empty() else {
            "error": f"measuring process died (exit code {child.exitcode})"}
        progress.advance(note=kind)
    progress.close()
    return results


def describe_device() -> str:
    return f"{describe_cpu()}, OpenCV {cv2.__version__} threads {cv2.getNumThreads()}"


def report(model: AnyModel, frame_count: int, kinds: list[str], image_dir: Path | None = None,
           library: str | None = None, show_progress: bool = True) -> dict:
    """Measure the baseline and `kinds` on the same frames; every backend's ratio to the
    baseline's pure inference. Shared by `gunwatch bench` and benchmarks/detector_latency.py."""
    frames = make_frames(image_dir, frame_count + 2)
    results = measure_all(model, frames, ["baseline", *kinds], library, show_progress)
    baseline = results.pop("baseline")
    if "error" in baseline:
        raise GunwatchError(f"baseline failed: {baseline['error']}")
    baseline_ms = baseline["pure_inference"]["p50_ms"]
    for result in results.values():
        if "p50_ms" in result:
            result["ratio_to_baseline"] = round(result["p50_ms"] / baseline_ms, 3)
    return {"name": "bench", "gunwatch_version": __version__, "device": describe_device(),
            "model": model.name, "input": f"{FRAME_SIZE[0]}x{FRAME_SIZE[1]} JPEG",
            "frames": frame_count, "baseline_ms": baseline_ms, "baseline": baseline,
            "backends": results}


def run(args: argparse.Namespace) -> int:
    model = options.load(args)
    kinds = args.backends.split(",") if args.backends else backend_names()
    unknown = set(kinds) - set(backend_names())
    if unknown:
        raise ConfigError(f"--backends: unknown {sorted(unknown)}; choose from {backend_names()}")
    measured = report(model, args.frames, kinds, args.images, args.darknet_lib, not args.json)
    baseline, baseline_ms, results = measured["baseline"], measured["baseline_ms"], measured["backends"]
    if args.json:
        print(json.dumps(measured))
    else:
        print(f"{measured['device']}; model {model.name}; {args.frames} frames of {measured['input']}")
        print(f"baseline (seed loop): pure inference p50 {baseline_ms} ms, end to end "
              f"p50 {baseline['end_to_end']['p50_ms']} ms, peak RSS {baseline['peak_rss_mb']} MB")
        for name, r in results.items():
            if "error" in r:
                print(f"{name:>10}: unavailable: {r['error']}")
            else:
                print(f"{name:>10}: p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  {r['fps']} fps  "
                      f"peak RSS {r['peak_rss_mb']} MB  {r['ratio_to_baseline']}x baseline ({r['device']})")
    return 0 if any("p50_ms" in r for r in results.values()) else 3
