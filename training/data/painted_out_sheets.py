"""Contact sheets of painted-out train pictures that a gun model still boxes, for a person to
mark by eye the ones that still show a gun (the review file PAINTED_OUT_REVIEW, which `train
prepare` reads).

Painting out the labelled handguns can leave a gun the labels never marked: a rifle, a second
pistol, a shop display (8 of 314 valid pictures, benchmarks/painted_out_audit.csv). In the train
list such a picture teaches the network that a gun is background. Looking at 2,500 pictures is
not practical; looking at the ones a model still boxes is. The model must be one that never
trained on painted-out pictures (gun-yolov4-tiny, gun-yolov3-tiny): one that did has learnt
those very pictures as gun-free and boxes them least.

Only boxes up to half the picture count (`--max-share`): a model trained on close-ups boxes
whole studio pictures of an empty hand with a painted smear (the surest 12 of 585 boxed train
pictures at 0.3 were such, all gun-free); a gun the labels missed is a part of the picture.
Each boxed picture becomes one tile, the whole painted picture with the model's surest box
outlined in red, labelled with its rank and score; tiles go 12 to a sheet, surest first.
OUT/index.csv maps each tile to its file.

    python -m gunwatch.training.data.painted_out_sheets DATA/gun-free --model gun-yolov4-tiny \
        --confidence 0.3 --out /var/tmp/gunwatch-painted-audit
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from .negatives import folder_pictures
from .review_sheets import grid, pages, sheet

TILE = 320
LABEL_H = 18


def whole_tile(picture: np.ndarray, box: tuple[float, float, float, float], label: str) -> np.ndarray:
    """The whole picture fitted into a TILE square, the box (x, y, w, h in picture pixels) in red."""
    h, w = picture.shape[:2]
    scale = TILE / max(h, w)
    small = cv2.resize(picture, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    x, y, bw, bh = (v * scale for v in box)
    cv2.rectangle(small, (int(x), int(y)), (int(x + bw), int(y + bh)), (0, 0, 255), 2)
    cell = np.full((TILE + LABEL_H, TILE, 3), 255, np.uint8)
    cell[:small.shape[0], :small.shape[1]] = small
    cv2.putText(cell, label, (3, TILE + LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return cell


def boxed_pictures(folder: Path, model_ref: str, confidence: float, backend: str,
                   max_share: float) -> list[tuple[float, Path, tuple]]:
    """(surest gun score, picture, its box) for every picture in ``folder`` the model boxes at
    ``confidence`` with a box no larger than ``max_share`` of the picture, surest first."""
    from ...detectors.base import DetectorSettings
    from ...detectors.select import create_detector
    from ...model import load_model

    model = load_model(model_ref)
    detector = create_detector(backend, model, DetectorSettings(confidence=confidence, nms=model.meta.thresholds.nms))
    found = []
    try:
        for path in folder_pictures(folder):
            picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if picture is None:
                continue
            area = picture.shape[0] * picture.shape[1]
            guns = [d for d in detector.detect(picture) if d.label == "gun" and d.box.w * d.box.h <= max_share * area]
            if guns:
                best = max(guns, key=lambda d: d.confidence)
                found.append((round(best.confidence, 3), path, (best.box.x, best.box.y, best.box.w, best.box.h)))
    finally:
        detector.close()
    return sorted(found, key=lambda f: (-f[0], f[1].name))


def make_sheets(found: list[tuple[float, Path, tuple]], out: Path, title: str) -> int:
    """Write OUT/sheets/sheet-NNN.png and OUT/index.csv; returns the number of sheets."""
    (out / "sheets").mkdir(parents=True, exist_ok=True)
    for old in (out / "sheets").glob("sheet-*.png"):
        old.unlink()
    columns, rows = grid(TILE)
    ranked = [(f"{rank:03d} {score:.2f}", score, path, box) for rank, (score, path, box) in enumerate(found, start=1)]
    sheets = pages([[item] for item in ranked], columns * rows)
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["tile", "sheet", "file", "score"])
        for number, tiles in enumerate(sheets, start=1):
            if not tiles:
                continue
            cells = []
            for label, score, path, box in tiles:
                cells.append(whole_tile(cv2.imread(str(path), cv2.IMREAD_COLOR), box, label))
                writer.writerow([label.split()[0], f"sheet-{number:03d}", path.name, score])
            cv2.imwrite(str(out / "sheets" / f"sheet-{number:03d}.png"),
                        sheet(cells, f"sheet-{number:03d}  {title}", TILE))
    return len([s for s in sheets if s])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="painted_out_sheets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="painted-out pictures (a prepared data set's gun-free/)")
    ap.add_argument("--model", default="gun-yolov4-tiny",
                    help="a gun model never trained on painted-out pictures (default gun-yolov4-tiny)")
    ap.add_argument("--confidence", type=float, default=0.3)
    ap.add_argument("--max-share", type=float, default=0.5, metavar="S",
                    help="only boxes up to this share of the picture (default 0.5): a model trained on "
                         "close-ups boxes whole studio pictures of an empty hand, which are gun-free; "
                         "a gun the labels missed is a part of the picture")
    ap.add_argument("--backend", default="opencv")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    found = boxed_pictures(args.folder, args.model, args.confidence, args.backend, args.max_share)
    count = make_sheets(found, args.out, f"{args.model} at {args.confidence}, boxes up to {args.max_share:.0%}")
    print(f"{len(found)} of {len(folder_pictures(args.folder))} pictures boxed at {args.confidence} "
          f"(boxes up to {args.max_share:.0%} of the picture): "
          f"{count} sheets in {args.out / 'sheets'}, index {args.out / 'index.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
