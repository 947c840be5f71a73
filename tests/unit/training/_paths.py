"""Paths of the shared COCO yolov3-tiny files and the pistols data for the training tests."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import PISTOLS, WEIGHTS, need

COCO_CFG = WEIGHTS / "yolov3-tiny.cfg"
COCO_WEIGHTS = WEIGHTS / "yolov3-tiny.weights"


def need_coco() -> tuple[Path, Path]:
    need(COCO_CFG.exists() and COCO_WEIGHTS.exists(), f"no COCO yolov3-tiny in {WEIGHTS}")
    return COCO_CFG, COCO_WEIGHTS


def pistol_images(split: str, n: int) -> list[Path]:
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    with open(PISTOLS / "splits.csv", newline="") as fh:
        rows = [r["file"] for r in csv.DictReader(fh) if r["split"] == split]
    return [PISTOLS / "images" / f for f in sorted(rows)[:n]]
