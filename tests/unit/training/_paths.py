"""Paths of the shared COCO yolov3-tiny / yolov4-tiny files and the pistols data for the training tests."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import PISTOLS, WEIGHTS, need

COCO_CFG = WEIGHTS / "yolov3-tiny.cfg"
COCO_WEIGHTS = WEIGHTS / "yolov3-tiny.weights"


def need_coco(arch: str = "yolov3-tiny") -> tuple[Path, Path]:
    cfg, weights = WEIGHTS / f"{arch}.cfg", WEIGHTS / f"{arch}.weights"
    need(cfg.exists() and weights.exists(), f"no COCO {arch} in {WEIGHTS}")
    return cfg, weights


def pistol_images(split: str, n: int) -> list[Path]:
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    with open(PISTOLS / "splits.csv", newline="") as fh:
        rows = [r["file"] for r in csv.DictReader(fh) if r["split"] == split]
    return [PISTOLS / "images" / f for f in sorted(rows)[:n]]
