"""Does the region stage find the small guns of camera frames? Each region mode against `whole`
(today's pipeline, the baseline), on the same 1080p frames, through the real detectors.

The frames are composites, built here at run time and never saved: we have no licensed
camera footage with small guns. A pistols **test** picture (never used for training or model
choice) in which the person model finds a person holding the labelled gun is shrunk so that the
gun's longer side is 15-80 pixels, and pasted at a random place on a 1920x1080 backdrop made
from darknet's sample photos (Debian's darknet package, /usr/share/darknet/data). Gun-free
frames paste the same pictures with the guns painted out (gunwatch.training.data.negatives): the
same people, hands and rooms, no gun; a close-up whose gun fills over half of the picture cannot
be painted out (the gun would still be there), so gun-free frames cycle over the others. These
pictures are close-ups, so at a 15-pixel gun the person is often under 60 pixels tall, smaller
than on a real camera at the same gun size: the person-mode figures are a floor for real footage.

Motion regions see the empty backdrop first and the composite second, as a camera sees a
scene before somebody walks in; only the composite is scored and timed. Reported per mode and confidence: recall at IoU 0.5 and 0.3 (by gun size too),
gun-free frames with a gun box, false boxes in gun frames, ms per frame, regions per frame.

    python benchmarks/small_guns.py --json [--frames 120] [--confidences 0.6,0.35]
        [--modes whole,auto,whole+person,whole+motion,whole+tiles] [--person-inputs 416,608] [--model M]

A mode is one entry of a camera's `regions.modes`, or several joined by `+`: `auto` is the
default (person crops, the whole frame when nobody is found), `whole+person` pays for both.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.domain import BBox
from gunwatch.model import load_model
from gunwatch.regions.config import RegionSettings
from gunwatch.regions.stage import RegionDetector
from gunwatch.training.data.negatives import can_paint_out, paint_out

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pistols"
BACKDROPS = Path("/usr/share/darknet/data")
FRAME_W, FRAME_H = 1920, 1080
SIZE_BINS = ((15, 30), (30, 50), (50, 80))  # gun length in frame pixels


def labelled_boxes(name: str) -> list[tuple[float, ...]]:
    text = (DATASET / "labels" / Path(name).with_suffix(".txt")).read_text()
    return [tuple(map(float, line.split())) for line in text.splitlines() if line.strip()]


def held_guns(person_detector, split: str) -> list[tuple[np.ndarray, list[tuple[float, ...]]]]:
    """Pictures of the split where the person model finds a person around a labelled gun."""
    with open(DATASET / "splits.csv", newline="") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == split]
    chosen = []
    for name in names:
        picture = cv2.imread(str(DATASET / "images" / name))
        boxes = labelled_boxes(name)
        h, w = picture.shape[:2]
        persons = [d.box for d in person_detector.detect(picture) if d.label == "person"]
        if any(p.x <= cx * w <= p.x + p.w and p.y <= cy * h <= p.y + p.h
               for _, cx, cy, _, _ in boxes for p in persons):
            chosen.append((picture, boxes))
    return chosen


def backdrops() -> list[np.ndarray]:
    photos = [cv2.imread(str(p)) for p in sorted(BACKDROPS.glob("*.jpg"))]
    return [cv2.resize(p, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC) for p in photos if p is not None]


def composite(backdrop: np.ndarray, picture: np.ndarray, boxes, gun_len: float,
              rng: np.random.Generator, shift: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, list[BBox], float]:
    """The picture shrunk so its largest gun is `gun_len` pixels long, pasted at a random place;
    returns the frame, the guns' boxes in frame pixels and the gun's length as pasted (shorter
    than asked when the picture would not fit in three quarters of the frame's height). `shift`
    moves the picture from its random place (a person walking), kept inside the frame."""
    h, w = picture.shape[:2]
    longest = max(max(bw * w, bh * h) for _, _, _, bw, bh in boxes)
    scale = min(gun_len / longest, 0.75 * FRAME_H / h)
    pw, ph = max(2, round(w * scale)), max(2, round(h * scale))
    small = cv2.resize(picture, (pw, ph), interpolation=cv2.INTER_AREA)
    x0 = int(rng.integers(0, FRAME_W - pw))
    y0 = int(rng.integers(min(FRAME_H // 4, FRAME_H - ph - 1), FRAME_H - ph))  # on the ground, not in the sky
    x0 = min(max(0, x0 + shift[0]), FRAME_W - pw)
    y0 = min(max(0, y0 + shift[1]), FRAME_H - ph)
    frame = backdrop.copy()
    frame[y0:y0 + ph, x0:x0 + pw] = small
    guns = [BBox(x0 + (cx - bw / 2) * pw, y0 + (cy - bh / 2) * ph, bw * pw, bh * ph)
            for _, cx, cy, bw, bh in boxes]
    return frame, guns, longest * scale


def build_frames(pictures, count: int, seed: int = 7):
    """`count` gun frames and as many gun-free ones: (backdrop, frame, gun boxes, gun length)."""
    rng = np.random.default_rng(seed)
    scenes = backdrops()
    paintable = [(picture, boxes) for picture, boxes in pictures if can_paint_out(boxes)]
    if not paintable:
        raise SystemExit("small_guns: no chosen picture can have its gun painted out, so there are "
                         "no gun-free frames; use a split with pictures of people (--split)")
    guns, free = [], []
    for i in range(count):
        picture, boxes = pictures[i % len(pictures)]
        low, high = SIZE_BINS[i % len(SIZE_BINS)]
        length = float(rng.uniform(low, high))
        backdrop = scenes[int(rng.integers(len(scenes)))]
        frame, truth, length = composite(backdrop, picture, boxes, length, rng)
        guns.append((backdrop, frame, truth, length))
        picture, boxes = paintable[i % len(paintable)]
        frame, _, _ = composite(backdrop, paint_out(picture, boxes), boxes, length, rng)
        free.append((backdrop, frame, [], length))
    return guns, free


def run_mode(mode: str, gun_detector, person_detector, nms: float, frames, settings: dict):
    """Detections and timings of one mode over the frames (backdrop first, then the composite)."""
    region_settings = RegionSettings(modes=mode.split("+"), **settings)
    stage = RegionDetector(gun_detector, nms, 416, lambda camera: region_settings, person_detector)
    results = []
    for k, (backdrop, frame, _, _) in enumerate(frames):
        camera = f"{mode}-{k}"
        if "motion" in mode:
            stage.detect_regions(camera, backdrop, 0.0)  # the scene before somebody walked in
        started = time.perf_counter()
        result = stage.detect_regions(camera, frame, 2.0)
        results.append((result, (time.perf_counter() - started) * 1000))
    return results


def matched(detections, truth: list[BBox], iou: float) -> tuple[int, int]:
    """(guns found, false boxes): greedy one-to-one matching, surest box first."""
    left = list(truth)
    found = false = 0
    for det in sorted(detections, key=lambda d: -d.confidence):
        best = max(left, key=lambda t: det.box.iou(t), default=None)
        if best is not None and det.box.iou(best) >= iou:
            left.remove(best)
            found += 1
        else:
            false += 1
    return found, false


def score(mode: str, gun_results, free_results, gun_frames, confidence: float) -> dict:
    def kept(result):
        return [d for d in result.detections if d.confidence >= confidence]

    total = sum(len(t) for _, _, t, _ in gun_frames)
    row = {"mode": mode, "confidence": confidence}
    for iou in (0.5, 0.3):
        row[f"recall_iou{iou}"] = round(sum(matched(kept(r), t, iou)[0]
                                            for (r, _), (_, _, t, _) in zip(gun_results, gun_frames)) / total, 4)
    row["false_boxes_in_gun_frames"] = sum(matched(kept(r), t, 0.5)[1]
                                           for (r, _), (_, _, t, _) in zip(gun_results, gun_frames))
    row["gun_free_frames_with_a_gun_box"] = round(sum(bool(kept(r)) for r, _ in free_results) / len(free_results), 4)
    by_size = {}
    for low, high in SIZE_BINS:
        pairs = [(r, t) for (r, _), (_, _, t, length) in zip(gun_results, gun_frames) if low <= length < high]
        guns = sum(len(t) for _, t in pairs)
        by_size[f"{low}-{high}px"] = round(sum(matched(kept(r), t, 0.5)[0] for r, t in pairs) / guns, 4) if guns else None
    row["recall_iou0.5_by_gun_length"] = by_size
    ms = [m for _, m in gun_results + free_results]
    row["ms_per_frame_p50"] = round(float(np.median(ms)), 1)
    row["ms_per_frame_mean"] = round(float(np.mean(ms)), 1)
    row["regions_per_frame"] = round(float(np.mean([len(r.regions) for r, _ in gun_results + free_results])), 2)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="gun frames (and as many gun-free)")
    parser.add_argument("--modes", default="whole,auto,whole+person,whole+motion,whole+tiles",
                        help="region modes to compare, `+` joining the modes of one run")
    parser.add_argument("--confidences", default="0.6,0.35", help="gun thresholds to score")
    parser.add_argument("--model", help="gun model (default: the bundled default)")
    parser.add_argument("--backend", default="opencv")
    parser.add_argument("--split", default="test", help="pistols split the pictures come from")
    parser.add_argument("--max-regions", type=int, default=RegionSettings().max_regions)
    parser.add_argument("--person-inputs", default="416",
                        help="person model input sides to compare (each mode with person runs once per side)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    confidences = [float(c) for c in args.confidences.split(",")]
    modes = args.modes.split(",")
    if modes[0] != "whole":
        modes.insert(0, "whole")  # the baseline is always measured in the same run

    model = load_model(args.model)
    gun = create_detector(args.backend, model, DetectorSettings(confidence=min(confidences)))
    _, nms = DetectorSettings().resolve(model)
    person_model = load_model("person-yolov4-tiny")
    person = create_detector(args.backend, person_model)
    pictures = held_guns(person, args.split)
    people = {int(side): create_detector(args.backend, person_model.at_input_size(int(side)))
              for side in args.person_inputs.split(",")}
    gun_frames, free_frames = build_frames(pictures, args.frames)
    settings = {"max_regions": args.max_regions}
    rows = []
    runs = [(mode, side) for mode in modes for side in (people if mode == "auto" or "person" in mode else [None])]
    for mode, side in runs:
        detector = people[side] if side else person
        gun_results = run_mode(mode, gun, detector, nms, gun_frames, settings)
        free_results = run_mode(mode, gun, detector, nms, free_frames, settings)
        for confidence in confidences:
            rows.append(score(mode, gun_results, free_results, gun_frames, confidence))
            if side:
                rows[-1]["person_input"] = side
            if not args.json:
                r = rows[-1]
                print(f"{mode:>12} {side or ''} @ {confidence}: recall {r['recall_iou0.5']:.2f} (IoU 0.3: "
                      f"{r['recall_iou0.3']:.2f}), gun-free frames with a box "
                      f"{r['gun_free_frames_with_a_gun_box']:.1%}, {r['ms_per_frame_p50']:.0f} ms, "
                      f"{r['regions_per_frame']:.1f} regions", file=sys.stderr)
    report = {"name": "small_guns", "model": model.name, "backend": gun.name, "params": {
        "gun_frames": len(gun_frames), "gun_free_frames": len(free_frames), "frame": [FRAME_W, FRAME_H],
        "split": args.split, "pictures_with_a_person_holding_the_gun": len(pictures),
        "of_them_paintable_for_gun_free_frames": sum(can_paint_out(boxes) for _, boxes in pictures),
        "gun_lengths_px": [SIZE_BINS[0][0], SIZE_BINS[-1][1]], "max_regions": args.max_regions,
        "composites": "pistols pictures pasted on darknet sample photos (see the module docstring)"},
        "baseline": "whole", "rows": rows}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
