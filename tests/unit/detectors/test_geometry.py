"""Pre/post-processing shared by the backends: placement, box mapping, NMS."""

import numpy as np
import pytest

from gunwatch.detectors.base import placement, postprocess, prepare_input
from gunwatch.model import InputSpec

SQUARE = InputSpec(rect=False)
STRETCH = InputSpec(letterbox=False)


def test_letterbox_placement_matches_darknet_integer_math():
    t = placement(1920, 1080, SQUARE)
    assert (t.net_w, t.net_h, t.placed_w, t.placed_h, t.pad_x, t.pad_y) == (416, 416, 416, 234, 0, 91)
    t = placement(480, 640, SQUARE)
    assert (t.placed_w, t.placed_h, t.pad_x, t.pad_y) == (312, 416, 52, 0)


def test_rect_cuts_whole_grid_bands_of_padding():
    t = placement(1920, 1080, InputSpec())
    assert (t.net_w, t.net_h, t.placed_w, t.placed_h, t.pad_x, t.pad_y) == (416, 288, 416, 234, 0, 27)
    assert 91 % 32 == t.pad_y % 32  # same place relative to the stride-32 grid as the square
    t = placement(480, 640, InputSpec())
    assert (t.net_w, t.net_h, t.pad_x, t.pad_y) == (352, 416, 20, 0)
    t = placement(400, 400, InputSpec())
    assert (t.net_w, t.net_h) == (416, 416)


def test_stretch_placement():
    t = placement(1920, 1080, STRETCH)
    assert (t.net_w, t.placed_w, t.placed_h, t.pad_x, t.pad_y) == (416, 416, 416, 0, 0)


@pytest.mark.parametrize("spec", [InputSpec(), SQUARE, STRETCH])
def test_box_round_trip(spec):
    """A box drawn in the source lands, after placement and mapping back, on the same pixels."""
    t = placement(1280, 720, spec)
    x, y, w, h = 100.0, 200.0, 320.0, 160.0
    sx, sy = t.placed_w / 1280, t.placed_h / 720
    rel = np.array([[(t.pad_x + (x + w / 2) * sx) / t.net_w, (t.pad_y + (y + h / 2) * sy) / t.net_h,
                     w * sx / t.net_w, h * sy / t.net_h]], np.float32)
    np.testing.assert_allclose(t.to_source(rel)[0], [x, y, w, h], atol=1e-3)


def test_prepare_input_layout():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    chw, t = prepare_input(frame, InputSpec(width=64, height=64, rect=False))
    assert chw.shape == (3, 64, 64) and chw.dtype == np.float32
    assert (t.placed_w, t.placed_h, t.pad_y) == (64, 32, 16)
    assert chw[0, 32, 32] == pytest.approx(1.0)  # R channel first
    assert chw[2, 32, 32] == pytest.approx(0.0)
    assert chw[0, 0, 0] == pytest.approx(0.5)  # darknet's grey padding
    gray = prepare_input(np.zeros((10, 10), np.uint8), InputSpec(width=32, height=32, letterbox=False))[0]
    assert gray.shape == (3, 32, 32)


def test_postprocess_nms_threshold_and_order():
    t = placement(416, 416, STRETCH)
    boxes = np.array([[0.5, 0.5, 0.2, 0.2], [0.505, 0.5, 0.2, 0.2], [0.2, 0.2, 0.1, 0.1],
                      [0.8, 0.8, 0.1, 0.1]], np.float32)
    scores = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.6], [0.3, 0.0]], np.float32)
    dets = postprocess(boxes, scores, t, ["gun", "knife"], confidence=0.5, nms=0.45)
    assert [(d.label, round(d.confidence, 2)) for d in dets] == [("gun", 0.9), ("knife", 0.6)]
    assert dets[0].box.as_list() == pytest.approx([166.4, 166.4, 83.2, 83.2], abs=0.1)


def test_postprocess_keeps_overlapping_boxes_of_different_classes():
    t = placement(100, 100, STRETCH)
    boxes = np.array([[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2]], np.float32)
    scores = np.array([[0.9, 0.0], [0.0, 0.8]], np.float32)
    assert len(postprocess(boxes, scores, t, ["a", "b"], 0.5, 0.45)) == 2


def test_postprocess_clips_to_image():
    t = placement(100, 100, STRETCH)
    dets = postprocess(np.array([[0.05, 0.5, 0.3, 0.2]], np.float32), np.array([[0.9]], np.float32),
                       t, ["gun"], 0.5, 0.45)
    assert dets[0].box.x == 0.0 and dets[0].box.w == pytest.approx(20.0, abs=0.01)
