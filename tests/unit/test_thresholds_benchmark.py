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
