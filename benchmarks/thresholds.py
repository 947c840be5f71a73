"""Which confidence and NMS thresholds should a gun model ship with? Measured on a labelled split.

For each NMS IoU in a grid, runs the model once at a low confidence (0.005) over the split,
then computes AP@0.50 (VOC all-point) and, for each confidence in a grid, precision, recall and
F1 at IoU 0.5, and how many false boxes lie on no labelled gun at all (`fp_no_gun`; the rest
are loose or second boxes on a gun) and how many of those on a gun are oversized (`fp_oversized`:
at least 1.5 times the area of the gun box they overlap most, a box around hand and gun or
around two guns). The baseline is the seed study's setting (confidence 0.7,
NMS 0.4), measured on the same detections. Chosen: the NMS with the best AP, then the
confidence with the best F1.

`--at-precision 0.955,0.96` adds, at the chosen NMS, the most guns a model finds while its
precision stays at or above each figure, over every confidence its boxes have rather than the
0.05 grid: the fair way to set two models side by side, since on the grid one lands at 0.955
and the other at 0.968 and their recalls are not comparable.

`--nms N` measures at that NMS only (a point a decision rule fixed beforehand), `--confidence
C,...` adds those confidences to the grid.

    python benchmarks/thresholds.py --json [--model M] [--split valid] [--limit N] [--at-precision P,...]
        [--nms N] [--confidence C,...]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.domain import BBox, Detection
from gunwatch.model import load_model
from gunwatch.training.metrics.evaluate import voc_ap

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pistols"
NMS_GRID = (0.3, 0.4, 0.45, 0.5, 0.6)
CONF_GRID = tuple(round(c, 2) for c in np.arange(0.1, 0.96, 0.05))
SEED = {"confidence": 0.7, "nms": 0.4}
# A false box this many times the area of the gun it overlaps most holds more than the gun
# (a hand, a second gun): a box-fit fault, not a wrong guess of what is there.
OVERSIZED_AREA = 1.5


def load_split(dataset: Path, split: str, limit: int | None) -> list[tuple[Path, list[BBox]]]:
    with open(dataset / "splits.csv", newline="") as fh:
        files = [r["file"] for r in csv.DictReader(fh) if r["split"] == split][:limit]
    items = []
    for name in files:
        image = dataset / "images" / name
        h, w = cv2.imread(str(image)).shape[:2]
        truths = []
        for line in (dataset / "labels" / Path(name).with_suffix(".txt")).read_text().splitlines():
            if line.strip():
                _, cx, cy, bw, bh = map(float, line.split())
                truths.append(BBox((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h))
        items.append((image, truths))
    return items


def score(dets: list[list[Detection]], truths: list[list[BBox]], conf: float) -> tuple[int, int, int, int, int]:
    """(TP, FP, FN, FP on no gun, FP oversized) at IoU 0.5, each truth matched once, best
    detections first.

    A false box is either on a labelled gun (a second box, or one too loose for IoU 0.5: its best
    IoU with any truth is at least 0.1) or on no gun at all; only the second kind is a false
    alarm in a camera, so the two are told apart. Of those on a gun, the oversized ones are
    counted too: they say the model draws its box around more than the gun."""
    tp = fp = elsewhere = oversized = 0
    for found, truth in zip(dets, truths):
        used = [False] * len(truth)
        for det in sorted((d for d in found if d.confidence >= conf), key=lambda d: -d.confidence):
            all_ious = [det.box.iou(t) for t in truth]
            ious = [0.0 if used[j] else iou for j, iou in enumerate(all_ious)]
            j = int(np.argmax(ious)) if ious else -1
            if j >= 0 and ious[j] >= 0.5:
                used[j], tp = True, tp + 1
                continue
            fp += 1
            nearest = int(np.argmax(all_ious)) if all_ious else -1
            if nearest < 0 or all_ious[nearest] < 0.1:
                elsewhere += 1
            elif det.box.w * det.box.h >= OVERSIZED_AREA * truth[nearest].w * truth[nearest].h:
                oversized += 1
    return tp, fp, sum(len(t) for t in truths) - tp, elsewhere, oversized


def ranked_hits(dets: list[list[Detection]], truths: list[list[BBox]]) -> tuple[list[float], list[bool]]:
    """Every box, surest first, and whether it finds a gun not found by a surer one (IoU 0.5).

    Matching only interacts within a picture, so this global order gives, at any confidence, the
    same counts as score() at that confidence."""
    ranked = sorted(((d.confidence, i, d) for i, found in enumerate(dets) for d in found), key=lambda r: -r[0])
    used = [[False] * len(t) for t in truths]
    hits = []
    for _, i, det in ranked:
        ious = [det.box.iou(t) if not used[i][j] else 0.0 for j, t in enumerate(truths[i])]
        j = int(np.argmax(ious)) if ious else -1
        hit = j >= 0 and ious[j] >= 0.5
        if hit:
            used[i][j] = True
        hits.append(hit)
    return [r[0] for r in ranked], hits


def average_precision(dets: list[list[Detection]], truths: list[list[BBox]]) -> float:
    _, hits = ranked_hits(dets, truths)
    tp = np.cumsum(hits)
    return voc_ap(tp / max(sum(len(t) for t in truths), 1), tp / np.arange(1, len(hits) + 1))


def recall_at_precision(dets: list[list[Detection]], truths: list[list[BBox]], min_precision: float) -> dict:
    """The most guns found while precision stays >= min_precision, at the highest confidence that
    finds them (fewest false boxes for that recall).

    Only confidences a box actually has are thresholds (boxes of equal confidence pass or fail
    together), so the figure is one a detector set to that confidence reproduces."""
    confidences, hits = ranked_hits(dets, truths)
    n_truth = sum(len(t) for t in truths)
    best = {"confidence": None, "precision": None, "recall": 0.0, "tp": 0, "fp": 0}
    tp = 0
    for k, (confidence, hit) in enumerate(zip(confidences, hits)):
        tp += hit
        if k + 1 < len(confidences) and confidences[k + 1] == confidence:
            continue
        precision = tp / (k + 1)
        if precision >= min_precision and tp > best["tp"]:
            best = {"confidence": confidence, "precision": round(precision, 4),
                    "recall": round(tp / n_truth, 4) if n_truth else 0.0, "tp": tp, "fp": k + 1 - tp}
    return best


def prf(tp: int, fp: int, fn: int, fp_no_gun: int, fp_oversized: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "tp": tp, "fp": fp, "fn": fn, "fp_no_gun": fp_no_gun, "fp_oversized": fp_oversized}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--backend", default="opencv")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--at-precision", default="", metavar="P,...",
                        help="also report the most guns found at precision >= each P (e.g. 0.955,0.96)")
    parser.add_argument("--nms", type=float, help="measure at this NMS only instead of the grid")
    parser.add_argument("--confidence", default="", metavar="C,...", help="add these confidences to the grid")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    nms_grid = (args.nms,) if args.nms else NMS_GRID
    try:
        extra = {round(float(c), 4) for c in args.confidence.split(",") if c.strip()}
    except ValueError:
        parser.error(f"--confidence {args.confidence!r}: give confidences between 0 and 1, comma-separated")
    conf_grid = tuple(sorted(set(CONF_GRID) | extra))
    try:
        at_precision = [float(p) for p in args.at_precision.split(",") if p.strip()]
    except ValueError:
        parser.error(f"--at-precision {args.at_precision!r}: give precisions between 0 and 1, comma-separated, e.g. 0.955,0.96")
    if any(not 0 < p <= 1 for p in at_precision):
        parser.error(f"--at-precision {args.at_precision!r}: each precision must be in (0, 1]")
    model = load_model(args.model)
    items = load_split(args.dataset, args.split, args.limit)
    images = [cv2.imread(str(p)) for p, _ in items]
    truths = [t for _, t in items]
    per_nms = {}
    for nms in sorted(set(nms_grid) | {SEED["nms"]}):
        detector = create_detector(args.backend, model, DetectorSettings(confidence=0.005, nms=nms))
        dets = [detector.detect(image) for image in images]
        detector.close()
        per_nms[nms] = {"ap50": round(average_precision(dets, truths), 4),
                        "by_confidence": {c: prf(*score(dets, truths, c)) for c in conf_grid},
                        "dets": dets}
        if not args.json:
            print(f"nms {nms}: AP@0.50 {per_nms[nms]['ap50']:.4f}", file=sys.stderr)
    best_nms = max(nms_grid, key=lambda n: per_nms[n]["ap50"])
    by_conf = per_nms[best_nms]["by_confidence"]
    best_conf = max(conf_grid, key=lambda c: by_conf[c]["f1"])
    seed = prf(*score(per_nms[SEED["nms"]]["dets"], truths, SEED["confidence"]))
    report = {
        "name": "thresholds", "model": model.name, "backend": args.backend,
        "params": {"split": args.split, "images": len(items), "truth_boxes": sum(map(len, truths))},
        "ap50_by_nms": {n: per_nms[n]["ap50"] for n in nms_grid},
        "chosen": {"nms": best_nms, "confidence": best_conf, **by_conf[best_conf]},
        "baseline_seed": {**SEED, **seed},
        "by_confidence": {c: by_conf[c] for c in conf_grid},
        "ok": by_conf[best_conf]["f1"] >= seed["f1"],
    }
    if at_precision:
        report["at_precision"] = {p: recall_at_precision(per_nms[best_nms]["dets"], truths, p) for p in at_precision}
    if not args.json:
        for c in conf_grid:
            r = by_conf[c]
            print(f"conf {c:.2f}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
