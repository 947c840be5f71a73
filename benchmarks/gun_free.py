"""How often does a gun model draw a gun where there is none? Measured on gun-free pictures.

Issue 30's target: at the model's default threshold, at most 1 % of gun-free pictures get a
gun box. The gun-free pictures are a split of the pistols set with every gun painted out
(training/data/negatives.py, the same painting as the training's gun-free pictures, so hands,
people and rooms stay), and/or a folder of pictures that show no gun (`--folder`, e.g. the
held-back part of a licensed gun-free set). Valid and test pictures are painted here, in
memory, never trained on.

A picture whose gun fills more than half of it cannot be painted out (there is too little around
the gun to rebuild it from; negatives.can_paint_out) and is left out, counted in
`close_ups_left_out`. The pistols labels mark handguns only, so a painted picture can still show a
rifle or an unlabelled pistol: pictures found so by eye (painted_out_audit.csv, verdict
still-shows-a-gun) are left out of the share too, counted in `still_shows_a_gun_left_out`;
`as_painted` keeps the count over every painted picture, and `boxed_not_audited` names the boxed
pictures nobody has looked at yet (look, then add them to the audit).

Each model runs at its own default confidence and NMS (model.json) unless `--confidence` is
given; the baseline is the default model, in the same run.

    python benchmarks/gun_free.py --json [--model CANDIDATE] [--split valid] [--folder DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.model import load_model
from gunwatch.training.data.negatives import can_paint_out, folder_pictures, paint_out

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pistols"
AUDIT = Path(__file__).with_name("painted_out_audit.csv")
STILL_ARMED, GUN_FREE = "still-shows-a-gun", "gun-free"
TARGET = 0.01


def load_audit(path: Path = AUDIT) -> dict[str, str]:
    """Picture name -> verdict of the by-eye audit of painted-out pictures."""
    with open(path, newline="", encoding="utf-8") as fh:
        audit = {row["picture"]: row["verdict"]
                 for row in csv.DictReader(line for line in fh if not line.startswith("#"))}
    unknown = set(audit.values()) - {STILL_ARMED, GUN_FREE}
    if unknown:
        raise SystemExit(f"{path}: unknown verdict {sorted(unknown)}; each row's verdict must be "
                         f"{STILL_ARMED} or {GUN_FREE}")
    return audit


def still_armed(audit: dict[str, str]) -> set[str]:
    """The audited pictures that are not gun-free: they leave every gun-free set."""
    return {name for name, verdict in audit.items() if verdict == STILL_ARMED}


def painted_split(dataset: Path, split: str, limit: int | None) -> tuple[list[tuple[str, "cv2.Mat"]], int]:
    """The split's pictures with their guns painted out, and how many were left out because the
    gun fills too much of the picture to be painted out (it would still be there)."""
    with open(dataset / "splits.csv", newline="", encoding="utf-8") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == split][:limit]
    pictures, close_ups = [], 0
    for name in names:
        label = (dataset / "labels" / Path(name).with_suffix(".txt")).read_text(encoding="utf-8")
        boxes = [line.split() for line in label.splitlines() if line.strip()]
        if not can_paint_out(boxes):
            close_ups += 1
            continue
        image = cv2.imread(str(dataset / "images" / name), cv2.IMREAD_COLOR)
        pictures.append((name, paint_out(image, boxes)))
    return pictures, close_ups


def folder_set(folder: Path, limit: int | None) -> list[tuple[str, "cv2.Mat"]]:
    pictures = []
    for path in folder_pictures(folder)[:limit]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            pictures.append((path.name, image))
    return pictures


def tally(hits: list[tuple[str, float]], names: list[str], audit: dict[str, str] | None) -> dict:
    """The false-alarm share over the gun-free pictures. `hits` are (picture, surest gun box
    confidence); `audit` is None for a set that needs none (a folder of gun-free pictures)."""
    left_out = still_armed(audit or {}) & set(names)
    kept = [h for h in hits if h[0] not in left_out]
    pictures = len(names) - len(left_out)
    share = len(kept) / pictures if pictures else 0.0
    report = {"pictures": pictures, "with_a_gun_box": len(kept), "share": round(share, 4),
              "meets_target": share <= TARGET,
              "surest": sorted(kept, key=lambda h: -h[1])[:5],
              # each boxed picture's surest gun box: the count at any higher confidence, without a rerun
              "boxed_confidences": sorted((h[1] for h in kept), reverse=True)}
    if audit is not None:
        report["still_shows_a_gun_left_out"] = len(left_out)
        report["as_painted"] = {"pictures": len(names), "with_a_gun_box": len(hits),
                                "boxed_confidences": sorted((h[1] for h in hits), reverse=True)}
        report["boxed_not_audited"] = sorted(name for name, _ in hits if name not in audit)
    return report


def false_alarms(model_ref: str | None, backend: str, confidence: float | None, nms: float | None,
                 pictures: list[tuple[str, "cv2.Mat"]], audit: dict[str, str] | None) -> dict:
    model = load_model(model_ref)
    settings = DetectorSettings(confidence=confidence if confidence is not None else model.meta.thresholds.confidence,
                                nms=nms if nms is not None else model.meta.thresholds.nms)
    detector = create_detector(backend, model, settings)
    try:
        hits = []
        for name, image in pictures:
            guns = [d for d in detector.detect(image) if d.label == "gun"]
            if guns:
                hits.append((name, round(max(d.confidence for d in guns), 3)))
    finally:
        detector.close()
    return {"model": model.name, "confidence": settings.confidence, "nms": settings.nms,
            **tally(hits, [name for name, _ in pictures], audit)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="candidate model (bundle folder or name; default: the default model)")
    parser.add_argument("--baseline", default="default",
                        help="model to compare with in the same run: 'default' (the default model) or 'none'")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--split", default="valid", help="pistols split to paint out ('none': only --folder)")
    parser.add_argument("--folder", type=Path, help="also: a folder of pictures that show no gun")
    parser.add_argument("--backend", default="opencv")
    parser.add_argument("--confidence", type=float, help="instead of each model's default")
    parser.add_argument("--nms", type=float, help="instead of each model's default (the operating point "
                        "chosen on valid may pair a confidence with another NMS)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sets, audits, left_out = {}, {}, {}
    if args.split != "none":
        name = f"pistols {args.split}, guns painted out"
        sets[name], left_out[name] = painted_split(args.dataset, args.split, args.limit)
        audits[name] = load_audit()
    if args.folder:
        sets[f"folder {args.folder}"] = folder_set(args.folder, args.limit)
    if not sets:
        parser.error("nothing to measure: give --split or --folder")
    models = {"candidate": args.model}
    if args.baseline != "none":
        models["baseline"] = None if args.baseline == "default" else args.baseline
    results = {}
    for set_name, pictures in sets.items():
        for role, ref in models.items():
            r = false_alarms(ref, args.backend, args.confidence, args.nms, pictures, audits.get(set_name))
            results.setdefault(set_name, {})[role] = r
            if not args.json:
                print(f"{set_name}: {role} {r['model']} at {r['confidence']}: {r['with_a_gun_box']} of "
                      f"{r['pictures']} pictures with a gun box ({100 * r['share']:.1f} %)", file=sys.stderr)
    report = {"name": "gun_free", "backend": args.backend, "target_share": TARGET, "sets": results,
              "close_ups_left_out": left_out,
              "ok": all(r["candidate"]["meets_target"] for r in results.values())}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
