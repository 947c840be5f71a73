"""Per-camera filters: labels, confidence, size, zones and masks."""

from gunwatch.domain import BBox, Detection
from gunwatch.pipeline.filters import FrameFilter, inside

SQUARE = [(0, 0), (100, 0), (100, 100), (0, 100)]


def det(x, y, w=10, h=10, label="gun", conf=0.9):
    return Detection(label, conf, BBox(x, y, w, h))


def test_inside():
    assert inside(SQUARE, (50, 50)) and inside(SQUARE, (100, 50))
    assert not inside(SQUARE, (101, 50))


def test_labels_and_confidence():
    f = FrameFilter(confidence=0.7)
    kept = f.keep([det(0, 0), det(0, 0, label="person"), det(0, 0, conf=0.5)], 640, 480)
    assert kept == [det(0, 0)]


def test_size_limits_are_fractions_of_the_frame():
    f = FrameFilter(min_area=0.001, max_area=0.5)
    tiny, ok, huge = det(0, 0, 5, 5), det(0, 0, 50, 50), det(0, 0, 600, 400)
    assert f.keep([tiny, ok, huge], 640, 480) == [ok]


def test_zone_uses_box_centre_and_mask_wins():
    f = FrameFilter(zones=(SQUARE,), masks=([(40, 40), (60, 40), (60, 60), (40, 60)],))
    edge = det(95, 45)          # centre (100, 50): on the zone's edge, kept
    outside = det(200, 200)
    masked = det(45, 45)        # centre (50, 50) inside the mask
    assert f.keep([edge, outside, masked], 640, 480) == [edge]
