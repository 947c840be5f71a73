"""k-means anchors with darknet's IoU distance."""
from __future__ import annotations

import numpy as np
import pytest

from gunwatch.training.arch.anchors import (DEFAULT_ANCHORS, box_sizes, fit_anchors, format_anchors,
                                       kmeans_anchors, mean_best_iou, rounded, wh_iou)
from gunwatch.training.data.datasource import open_data
from tests.conftest import PISTOLS, need


def test_centred_iou_by_hand():
    iou = wh_iou(np.array([[2.0, 2.0], [2.0, 1.0]]), np.array([[1.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(iou, [[0.25, 0.5], [0.5, 1 / 3]])


def clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes scattered (multiplicatively, as box sizes vary) around three known sizes."""
    rng = np.random.default_rng(seed)
    centres = np.array([[100.0, 100.0], [12.0, 10.0], [60.0, 20.0]])
    sizes = np.concatenate([c * rng.uniform(0.9, 1.1, (200, 2)) for c in centres])
    return sizes, centres


def test_kmeans_finds_the_clusters_sorted_by_area():
    sizes, centres = clusters()
    anchors = kmeans_anchors(sizes, 3, seed=0)
    np.testing.assert_allclose(anchors, centres[[1, 2, 0]], rtol=0.03)
    assert mean_best_iou(sizes, anchors) > 0.85
    # with an IoU distance the small boxes are fitted as well as the big ones
    ious = wh_iou(sizes, anchors).max(axis=1)
    assert ious[200:400].mean() > 0.85 and ious[:200].mean() > 0.85


def test_kmeans_is_deterministic_per_seed_and_returns_k_distinct_anchors():
    sizes, _ = clusters(1)
    a, b = kmeans_anchors(sizes, 6, seed=3), kmeans_anchors(sizes, 6, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len({tuple(r) for r in a}) == 6
    areas = a[:, 0] * a[:, 1]
    assert np.all(np.diff(areas) >= 0)


def test_too_few_distinct_boxes():
    with pytest.raises(ValueError, match="cannot give 6 anchors"):
        kmeans_anchors(np.array([[10.0, 10.0]] * 50), 6)


def test_box_sizes_scale_to_the_network_and_skip_empty_boxes():
    labels = [np.array([[0, .5, .5, .5, .25], [0, .5, .5, 0, .1]]), np.zeros((0, 5))]
    np.testing.assert_allclose(box_sizes(labels, 416, 320), [[208.0, 80.0]])


def test_darknet_text_and_rounding():
    assert rounded(np.array([[10.4, 13.6], [0.2, 5.5]])) == [(10, 14), (1, 6)]
    assert format_anchors([(10, 14), (135, 169)]) == " 10, 14, 135,169"


def test_pistol_anchors_fit_better_than_the_stock_ones():
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    labels = [label for _, label in open_data(PISTOLS).pairs("train")]
    fit = fit_anchors(labels, "yolov3-tiny", 416, 416, seed=0)
    assert (fit.images, fit.classes_seen) == (6217, 1)
    assert len(fit.anchors) == len(DEFAULT_ANCHORS["yolov3-tiny"])
    assert fit.avg_iou > fit.default_iou + 0.05
    assert fit_anchors(labels, "yolov3-tiny", 416, 416, seed=0).anchors == fit.anchors
