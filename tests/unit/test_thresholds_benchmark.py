"""How benchmarks/thresholds.py sorts a model's boxes on a labelled picture: found, a second or
loose box on a gun, an oversized box around the gun, or a box on no gun at all."""

import importlib.util
from pathlib import Path

from gunwatch.domain import BBox, Detection

SPEC = importlib.util.spec_from_file_location(
    "thresholds_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "thresholds.py")
thresholds = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(thresholds)

GUN = BBox(100, 100, 40, 20)


def box(x, y, w, h, confidence=0.9):
    return Detection("gun", confidence, BBox(x, y, w, h))


def test_each_kind_of_box_is_counted_once():
    found = [
        box(101, 100, 40, 20, 0.95),          # the gun: found
        box(100, 100, 42, 21, 0.9),           # a second box on it
        box(90, 95, 80, 40, 0.85),            # around hand and gun: IoU 0.25, 4x the area
        box(400, 300, 40, 20, 0.8),           # on no gun
        box(0, 0, 10, 10, 0.2),               # under the confidence asked for
    ]
    tp, fp, fn, elsewhere, oversized = thresholds.score([found], [[GUN]], conf=0.5)
    assert (tp, fp, fn, elsewhere, oversized) == (1, 3, 0, 1, 1)


def test_an_oversized_box_that_misses_the_gun_is_a_miss_too():
    tp, fp, fn, elsewhere, oversized = thresholds.score([[box(95, 95, 60, 40)]], [[GUN]], conf=0.5)
    assert (tp, fp, fn, elsewhere, oversized) == (0, 1, 1, 0, 1)


def test_the_report_row_names_the_oversized_count():
    row = thresholds.prf(*thresholds.score([[box(95, 95, 60, 40)]], [[GUN]], conf=0.5))
    assert row["fp_oversized"] == 1 and row["fp_no_gun"] == 0 and row["precision"] == 0.0


def test_recall_at_precision_finds_the_most_guns_the_precision_allows():
    second_gun = BBox(300, 100, 40, 20)
    found = [[box(100, 100, 40, 20, 0.9), box(400, 300, 40, 20, 0.8), box(300, 100, 40, 20, 0.7)]]
    # surest first: hit (P 1.0), false (P 0.5), hit (P 0.67)
    assert thresholds.recall_at_precision(found, [[GUN, second_gun]], 0.6) == {
        "confidence": 0.7, "precision": 0.6667, "recall": 1.0, "tp": 2, "fp": 1}
    assert thresholds.recall_at_precision(found, [[GUN, second_gun]], 0.9) == {
        "confidence": 0.9, "precision": 1.0, "recall": 0.5, "tp": 1, "fp": 0}


def test_boxes_of_equal_confidence_pass_or_fail_together():
    found = [[box(100, 100, 40, 20, 0.8), box(400, 300, 40, 20, 0.8)]]
    # at 0.8 both count: P 0.5, so a precision of 0.9 is never reached
    best = thresholds.recall_at_precision(found, [[GUN]], 0.9)
    assert best["tp"] == 0 and best["confidence"] is None


def test_recall_at_precision_agrees_with_the_grid_count_at_its_confidence():
    truths = [[GUN], [BBox(10, 10, 30, 30)]]
    found = [[box(101, 100, 40, 20, 0.95), box(90, 95, 80, 40, 0.6)], [box(12, 10, 30, 30, 0.55)]]
    best = thresholds.recall_at_precision(found, truths, 0.6)
    tp, fp, *_ = thresholds.score(found, truths, conf=best["confidence"])
    assert (best["tp"], best["fp"]) == (tp, fp) == (2, 1)
