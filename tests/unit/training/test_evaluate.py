"""NMS and VOC average precision."""
from __future__ import annotations

import numpy as np

from gunwatch.training.metrics.evaluate import (average_precision, detections_from_rows, nms,
                                        precision_recall_at, voc_ap)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7]), 0.45)
    assert keep.tolist() == [1, 2]


def test_detections_score_is_objectness_times_class():
    rows = np.array([[0.5, 0.5, 0.2, 0.2, 0.8, 0.5],
                     [0.5, 0.5, 0.21, 0.2, 0.9, 0.9],
                     [0.1, 0.1, 0.05, 0.05, 0.004, 1.0]])
    dets = detections_from_rows(rows, conf=0.005, nms_thresh=0.45)
    assert len(dets) == 1 and dets[0][0] == 0 and abs(dets[0][1] - 0.81) < 1e-9


def test_ap_perfect_and_with_a_false_positive():
    truths = [np.array([[0, 0.5, 0.5, 0.2, 0.2]]), np.array([[0, 0.3, 0.3, 0.2, 0.2]])]
    hit0 = (0, 0.9, np.array([0.4, 0.4, 0.6, 0.6]))
    hit1 = (0, 0.8, np.array([0.2, 0.2, 0.4, 0.4]))
    miss = (0, 0.85, np.array([0.7, 0.7, 0.9, 0.9]))
    assert average_precision([[hit0], [hit1]], truths, 0)["ap"] == 1.0
    # ranking: hit (P 1, R .5), miss, hit (P 2/3, R 1) -> AP = .5 * 1 + .5 * 2/3
    r = average_precision([[hit0, miss], [hit1]], truths, 0)
    assert abs(r["ap"] - (0.5 + 0.5 * 2 / 3)) < 1e-9
    # a duplicate of a matched truth is a false positive
    dup = (0, 0.7, np.array([0.41, 0.4, 0.6, 0.6]))
    assert average_precision([[hit0, dup], []], truths, 0)["ap"] == 0.5
    p, rec = precision_recall_at([[hit0, miss], [hit1]], truths, 0, conf=0.82)
    assert (p, rec) == (0.5, 0.5)


def test_voc_ap_all_point_interpolation():
    assert voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == 0.5 + 0.5 * 2 / 3
    assert voc_ap(np.array([]), np.array([])) == 0.0
