"""`gunwatch eval` with the shipped gun model on pistols test pictures, through the real backends."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import cv2
import pytest

from gunwatch.training.data.datasource import open_data
from gunwatch.training.metrics.report import collect_detections, score_detections
from tests.conftest import PISTOLS, need
from tests.unit.training._coco_ref import coco_ap

LIMIT = 20


def gunwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", "--log-level", "WARNING", *args],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.fixture(scope="module")
def pistols():
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    return str(PISTOLS)


def test_report_lines_and_pr_chart(pistols, tmp_path):
    chart = tmp_path / "pr.png"
    result = gunwatch("eval", "--data", pistols, "--split", "test", "--limit", str(LIMIT),
                      "--backend", "opencv", "--pr-curve", str(chart))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    patterns = [
        r"detections_count = \d+, unique_truth_count = \d+",
        r"class_id = 0, name = gun, ap = \d+\.\d\d% \(TP = \d+, FP = \d+\)",
        r"",
        r"for conf_thresh = 0\.25, precision = \d\.\d\d, recall = \d\.\d\d, F1-score = \d\.\d\d",
        r"for conf_thresh = 0\.25, TP = \d+, FP = \d+, FN = \d+, average IoU = \d+\.\d\d %",
        r"",
        r"IoU threshold = 50 %, used Area-Under-Curve for each unique Recall",
        r"mean average precision \(mAP@0\.50\) = 0\.\d{6}, or \d+\.\d\d %",
        r"mean average precision \(mAP@0\.50:0\.95\) = 0\.\d{6}, or \d+\.\d\d %",
        r"recall at conf_thresh 0\.25 by box size \(sqrt of area share\): <0\.10 (\d\.\d\d|-) \(\d+/\d+\), "
        r"0\.10-0\.25 (\d\.\d\d|-) \(\d+/\d+\), 0\.25-0\.50 (\d\.\d\d|-) \(\d+/\d+\), "
        r">=0\.50 (\d\.\d\d|-) \(\d+/\d+\)",
        r"median detected/true box area by box size \(IoU > 0\.1\): "
        r"(\d+\.\d\d|-), (\d+\.\d\d|-), (\d+\.\d\d|-), (\d+\.\d\d|-)",
    ]
    assert len(lines) == len(patterns), result.stdout
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(pattern, line), line
    assert f"{LIMIT} images of {pistols} (test)" in result.stderr
    image = cv2.imread(str(chart))
    assert image is not None and image.shape[:2] == (540, 720)


def test_json_keys_and_consistency(pistols):
    result = gunwatch("eval", "--data", pistols, "--split", "test", "--limit", str(LIMIT),
                      "--backend", "opencv", "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert {"map50", "map50_95", "precision", "recall", "f1", "tp", "fp", "fn", "avg_iou",
            "images"} <= set(r)
    assert r["images"] == LIMIT and r["backend"] == "opencv+opencv+opencv-mirrored+opencv-mirrored" and r["model"] == "gun-tiny-ensemble"
    assert r["tp"] + r["fn"] == r["unique_truth_count"] > 0
    assert 0 < r["map50_95"] < r["map50"] <= 1
    assert r["precision"] == pytest.approx(r["tp"] / (r["tp"] + r["fp"]))
    sizes = r["recall_by_size"]
    assert sum(b["truths"] for b in sizes) == r["unique_truth_count"]
    assert sum(b["found"] for b in sizes) == r["tp"]  # each true positive finds one truth
    assert all(b["area_ratio"] is None or 0 < b["area_ratio"] < 10 for b in sizes)


def test_ap_of_real_detections_agrees_with_pycocotools(pistols):
    pairs = open_data(pistols).pairs("test")[:LIMIT]
    got = collect_detections(None, pairs, "opencv", progress=False)
    r = score_detections(got.detections, got.truths, got.names)
    assert r["detections_count"] > r["unique_truth_count"]  # the low threshold keeps many boxes
    assert r["map50"] == pytest.approx(coco_ap(got.detections, got.truths, 0.5), abs=0.005)
    assert r["map50_95"] == pytest.approx(coco_ap(got.detections, got.truths), abs=0.005)


@pytest.mark.darknet
def test_darknet_backend_measures_the_same(pistols):
    pairs = open_data(pistols).pairs("test")[:5]
    from gunwatch.errors import GunwatchError

    try:
        dark = collect_detections("gun-yolov3-tiny", pairs, "darknet", progress=False)
    except GunwatchError as exc:
        need(False, f"darknet backend unavailable: {exc}")
    cv = collect_detections("gun-yolov3-tiny", pairs, "opencv", progress=False)
    a, b = (score_detections(c.detections, c.truths, c.names) for c in (dark, cv))
    assert a["map50"] == pytest.approx(b["map50"], abs=0.02)
    assert (a["tp"], a["fp"]) == (b["tp"], b["fp"])


def test_data_errors_exit_2(pistols, tmp_path):
    result = gunwatch("eval", "--data", pistols, "--split", "holdout")
    assert result.returncode == 2
    assert "no images in split 'holdout'" in result.stderr and "test, train, valid" in result.stderr
    result = gunwatch("eval", "--data", str(tmp_path))
    assert result.returncode == 2 and "not an obj.data file" in result.stderr


def test_obj_data_split_lists(pistols, tmp_path):
    """A prepared folder's obj.data: train/valid keys, test.txt beside it."""
    pairs = open_data(pistols).pairs("test")[:3]
    (tmp_path / "test.txt").write_text("".join(f"{image}\n" for image, _ in pairs))
    (tmp_path / "obj.data").write_text(f"classes=1\ntrain={tmp_path / 'train.txt'}\nnames=obj.names\n")
    (tmp_path / "obj.names").write_text("gun\n")
    source = open_data(tmp_path / "obj.data")
    assert source.names == ["gun"] and source.classes == 1
    assert source.pairs("test") == pairs
    with pytest.raises(ValueError, match="does not exist"):
        source.pairs("train")
