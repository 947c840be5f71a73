"""A few pistols pictures as a prepared darknet folder, and a one-class yolov3-tiny cfg small
enough for the darknet CLI to train a batch in well under a second on this CPU."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gunwatch.training.arch.darknet_cfg import make_n_class_cfg, read_cfg, write_cfg
from gunwatch.training.data.prepare import prepare
from tests.conftest import PISTOLS, REPO, WEIGHTS, need

COCO_CFG = WEIGHTS / "yolov3-tiny.cfg"
COCO_WEIGHTS = WEIGHTS / "yolov3-tiny.weights"


def need_training_inputs() -> None:
    need(COCO_CFG.exists() and COCO_WEIGHTS.exists(), f"no COCO yolov3-tiny in {WEIGHTS}")
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    need(shutil.which("darknet") is not None, "no darknet CLI (apt-get install darknet)")


def small_dataset(root: Path, counts: dict[str, int]) -> Path:
    """The first images of each split of the pistols set (links; labels copied into ``root``),
    prepared with their given split. Returns the obj.data."""
    with open(PISTOLS / "splits.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    source = root / "subset"
    (source / "images").mkdir(parents=True)
    (source / "labels").mkdir()
    chosen = []
    for split, n in counts.items():
        for row in sorted((r for r in rows if r["split"] == split), key=lambda r: r["file"])[:n]:
            stem = Path(row["file"]).stem
            os.symlink(PISTOLS / "images" / row["file"], source / "images" / row["file"])
            shutil.copyfile(PISTOLS / "labels" / f"{stem}.txt", source / "labels" / f"{stem}.txt")
            chosen.append(row)
    with open(source / "splits.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "split"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chosen)
    prepare(source, root / "data", class_names=["gun"], split="file", decode=False)
    return root / "data" / "obj.data"


def small_cfg(root: Path, size: int = 96, batch: int = 2, iterations: int = 4) -> Path:
    cfg = root / "gun-tiny.cfg"
    write_cfg(make_n_class_cfg(read_cfg(COCO_CFG), 1, batch=batch, subdivisions=1, width=size, height=size,
                               max_batches=iterations), cfg)
    return cfg


def gunwatch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def gunwatch_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gunwatch", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
