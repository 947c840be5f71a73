"""Which N-of-M rule should confirm a gun? Measured on real detector output, not assumptions.

Gun sequences: pistols pictures (valid split by default: the rule is a choice, and the test split
is kept for the final figures) each shown for 15 frames with a slow zoom (as in `gunwatch
demo`, a person holding it up to a camera), run through the detector frame by frame. Gun-free
sequences: the same pictures with the guns painted out (gunwatch.training.data.negatives.paint_out,
which also makes the gun-free training pictures: the same hands, people and rooms, no gun) plus
darknet's everyday sample photos. A close-up whose gun fills over half of the picture cannot be
painted out (negatives.can_paint_out: the gun would still be there), so it makes a gun sequence
only; the report counts them (close_ups_left_out). So does a picture that by eye still shows an
unlabelled gun once its labelled ones are painted out (gun_free.py's audit;
still_shows_a_gun_left_out). Each candidate rule is applied by the real
confirmation engine to the same detections. Reported per rule: the share of gun sequences that
raise an incident, frames until it does, the share of gun-free sequences that raise one and
which they are (`gun_free_alerted`). The baseline is a single frame at the seed's confidence 0.7.

Snapshot bursts (a folder source that gets 3 or 5 pictures per recorder event, one a second):
the same sequences sampled as bursts of 3 and 5 pictures, confirmed by the single-picture rule
(any picture at single_frame_confidence) against the burst rule (the gun in burst_hits pictures
at the model's own threshold).

    python benchmarks/confirmation.py --json [--model M] [--sequences 60] [--split valid]
        [--confidences 0.25,0.35,0.5]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from gunwatch.demo import NEGATIVE_DIRS, _zoomed
from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.model import load_model
from gunwatch.pipeline.confirm import CameraConfirmer, ConfirmSettings
from gunwatch.pipeline.filters import FrameFilter
from gunwatch.training.data.loader import read_labels
from gunwatch.training.data.negatives import can_paint_out, paint_out

from gun_free import load_audit, still_armed  # noqa: E402  (benchmarks are scripts)

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pistols"
FRAMES = 15
FPS = 5.0
RULES = [(1, 1), (2, 3), (3, 5), (4, 5), (5, 5)]  # (N hits, M frames)
BURSTS = (3, 5)            # pictures per recorder event
BURST_GAP_S = 1.0          # one picture a second, as cameras' FTP uploads write them
BURST_RULES = {"single picture": ConfirmSettings(burst_s=0),
               "2 of the burst": ConfirmSettings(burst_hits=2),
               "3 of the burst": ConfirmSettings(burst_hits=3)}


def sequences(count: int, split: str) -> tuple[list[list[np.ndarray]], dict[str, list[np.ndarray]], int, int]:
    """Gun sequences, gun-free sequences by the picture they come from, how many close-ups made
    no gun-free sequence, and how many painted pictures made none because they still show a gun."""
    with open(DATASET / "splits.csv", newline="") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == split]
    rng = np.random.default_rng(11)
    chosen = [names[i] for i in rng.choice(len(names), size=min(count, len(names)), replace=False)]
    armed_pictures = still_armed(load_audit())
    guns, free, close_ups, armed = [], {}, 0, 0
    for name in chosen:
        picture = cv2.imread(str(DATASET / "images" / name))
        guns.append([_zoomed(picture, k / FRAMES) for k in range(FRAMES)])
        boxes = read_labels(DATASET / "labels" / Path(name).with_suffix(".txt"))
        if not can_paint_out(boxes):
            close_ups += 1
            continue
        if name in armed_pictures:
            armed += 1
            continue
        painted = paint_out(picture, boxes)
        free[f"{name} (guns painted out)"] = [_zoomed(painted, k / FRAMES) for k in range(FRAMES)]
    for folder in NEGATIVE_DIRS:
        for photo in sorted(folder.glob("*.jpg")):
            picture = cv2.imread(str(photo))
            free[photo.name] = [_zoomed(picture, k / FRAMES) for k in range(FRAMES)]
    return guns, free, close_ups, armed


def first_incident(per_frame, rule: tuple[int, int], confidence: float) -> int | None:
    hits, window = rule
    confirmer = CameraConfirmer("bench", ConfirmSettings(hits=hits, window=window, within_s=60))
    keep = FrameFilter(confidence=confidence)
    for k, detections in enumerate(per_frame):
        kept = keep.keep(detections, 1280, 720)
        if any(c.kind == "opened" for c in confirmer.observe(k / FPS, kept)):
            return k
    return None


def evaluate(gun_dets, free_dets: dict[str, list], rule, confidence) -> dict:
    fired = [first_incident(seq, rule, confidence) for seq in gun_dets]
    false = [name for name, seq in free_dets.items() if first_incident(seq, rule, confidence) is not None]
    frames = [f + 1 for f in fired if f is not None]
    return {"rule": f"{rule[0]} of {rule[1]}", "confidence": confidence,
            "gun_sequences_alerted": round(sum(f is not None for f in fired) / len(fired), 4),
            "median_frames_to_incident": float(np.median(frames)) if frames else None,
            "gun_free_sequences_alerted": round(len(false) / len(free_dets), 4),
            # named, so that a false alarm can be looked at rather than only counted
            "gun_free_alerted": false}


def burst_alerted(per_frame, size: int, settings: ConfirmSettings, confidence: float) -> bool:
    """Whether `size` pictures spread over the sequence, sent as one burst, raise an incident."""
    confirmer = CameraConfirmer("bench", settings)
    keep = FrameFilter(confidence=confidence)
    picks = np.linspace(0, len(per_frame) - 1, size).round().astype(int)
    return any(c.kind == "opened" for k, i in enumerate(picks)
               for c in confirmer.observe(k * BURST_GAP_S, keep.keep(per_frame[i], 1280, 720), single_frame=True))


def evaluate_bursts(gun_dets, free_dets, confidence: float) -> list[dict]:
    return [{"burst": size, "rule": name, "confidence": confidence,
             "gun_sequences_alerted": round(float(np.mean([burst_alerted(s, size, rule, confidence) for s in gun_dets])), 4),
             "gun_free_sequences_alerted": round(float(np.mean([burst_alerted(s, size, rule, confidence) for s in free_dets.values()])), 4)}
            for size in BURSTS for name, rule in BURST_RULES.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--sequences", type=int, default=60)
    parser.add_argument("--backend", default="opencv")
    parser.add_argument("--split", default="valid", help="pistols split the gun pictures come from")
    parser.add_argument("--confidences", default="0.25,0.35,0.5", help="confidence thresholds to try")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    confidences = tuple(float(c) for c in args.confidences.split(","))
    model = load_model(args.model)
    detector = create_detector(args.backend, model, DetectorSettings(confidence=0.1))
    guns, free, close_ups, armed = sequences(args.sequences, args.split)
    gun_dets = [[detector.detect(f) for f in seq] for seq in guns]
    free_dets = {name: [detector.detect(f) for f in seq] for name, seq in free.items()}
    results = [evaluate(gun_dets, free_dets, rule, conf) for conf in confidences for rule in RULES]
    baseline = evaluate(gun_dets, free_dets, (1, 1), 0.7)
    bursts = evaluate_bursts(gun_dets, free_dets, model.meta.thresholds.confidence)
    report = {"name": "confirmation", "model": model.name, "params": {
        "gun_sequences": len(guns), "gun_free_sequences": len(free), "close_ups_left_out": close_ups,
        "still_shows_a_gun_left_out": armed,
        "frames_per_sequence": FRAMES,
        "fps": FPS, "split": args.split, "confidences": confidences}, "rules": results, "baseline_seed_single_frame_0.7": baseline,
        "snapshot_bursts": bursts,
        "ok": True}
    if not args.json:
        for r in [baseline, *results]:
            print(f"{r['rule']:>7} @ {r['confidence']}: guns alerted {r['gun_sequences_alerted']:.0%} "
                  f"(median {r['median_frames_to_incident']} frames), gun-free alerted "
                  f"{r['gun_free_sequences_alerted']:.0%}", file=sys.stderr)
        for b in bursts:
            print(f"burst of {b['burst']}, {b['rule']}: guns alerted {b['gun_sequences_alerted']:.0%}, "
                  f"gun-free alerted {b['gun_free_sequences_alerted']:.0%}", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
