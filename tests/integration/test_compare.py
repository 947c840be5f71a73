"""`gunwatch train compare` end to end on a few pictures: auto labels from the shipped gun model,
two darknet runs of a few batches, both scored on the same manually labelled test images."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gunwatch.darknet.files import label_path
from tests.conftest import REPO, need

from ._train_data import COCO_WEIGHTS, gunwatch, need_training_inputs, small_cfg, small_dataset

GUN_MODEL = REPO / "models" / "gun-yolov3-tiny"
NUMBER = r"\d+(?:\.\d+)?%?"


@pytest.mark.slow
def test_compare_prints_both_rows_with_numbers(tmp_path):
    need_training_inputs()
    need((GUN_MODEL / "model.weights").is_file(), f"no shipped gun model at {GUN_MODEL}")
    data = small_dataset(tmp_path, {"train": 4, "valid": 1, "test": 3})
    cfg = small_cfg(tmp_path, iterations=3)
    out = tmp_path / "cmp"
    args = ("train", "compare", str(out), "--data", str(data), "--cfg", str(cfg), "--weights", str(COCO_WEIGHTS),
            "--label-model", str(GUN_MODEL), "--label-conf", "0.2", "--backend", "opencv", "--no-random")
    done = gunwatch(*args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["labels", "mAP@0.50", "precision", "recall", "F1", "avg", "IoU", "final", "loss"]
    for name, line in zip(("manual", "auto"), lines[1:3]):
        cells = line.split()
        assert cells[0] == name and len(cells) == 7, line
        assert all(re.fullmatch(NUMBER, c) for c in cells[1:]), line
    assert "3 manually labelled test images; 3 iterations each" in lines[3]

    report = json.loads((out / "compare.json").read_text())
    assert set(report["rows"]) == {"manual", "auto"} and report["test_images"] == 3
    assert report["auto_labels"]["images"] == 4 and report["auto_labels"]["boxes"] > 0
    # both runs trained the same images, only the labels differ
    manual_train = (data.parent / "train.txt").read_text().split()
    auto_train = (out / "auto-train.txt").read_text().split()
    assert sorted(p.rsplit("/", 1)[1] for p in auto_train) == sorted(p.rsplit("/", 1)[1] for p in manual_train)
    manual_labels = [label_path(Path(p)) for p in manual_train]
    auto_labels = [label_path(Path(p)) for p in auto_train]
    assert all(p.is_file() for p in auto_labels)
    assert sorted(p.read_text() for p in auto_labels) != sorted(p.read_text() for p in manual_labels)
    for name in ("manual", "auto"):
        assert report["rows"][name]["images"] == 3 and report["rows"][name]["iterations"] == 3
        assert (out / name / "bundle" / "model.weights").is_file()

    again = gunwatch(*args)  # everything is there: nothing is trained or labelled again
    assert again.returncode == 0 and again.stdout == done.stdout
