"""Weighted boxes fusion: what agreement, disagreement and lone boxes come out as."""

import numpy as np
import pytest

from gunwatch.detectors.fusion import FusedDetector, MirroredDetector, fuse_boxes
from gunwatch.domain import BBox, Detection


def gun(confidence, x, y=0.0, w=10.0, h=10.0, label="gun"):
    return Detection(label, confidence, BBox(x, y, w, h))


def test_boxes_both_members_see_keep_their_score_and_average_their_corners():
    fused = fuse_boxes([[gun(0.9, 0)], [gun(0.6, 2)]], iou=0.5)
    assert len(fused) == 1
    assert fused[0].confidence == pytest.approx((0.9 + 0.6) / 2)
    # corners weighted by score: x0 = (0.9*0 + 0.6*2) / 1.5
    assert fused[0].box.x == pytest.approx(0.8)
    assert fused[0].box.w == pytest.approx(10.0)


def test_a_box_one_member_alone_sees_keeps_its_share():
    fused = fuse_boxes([[gun(0.8, 0)], []], iou=0.5)
    assert [d.confidence for d in fused] == [pytest.approx(0.4)]


def test_boxes_that_overlap_too_little_stay_apart_surest_first():
    fused = fuse_boxes([[gun(0.5, 0)], [gun(0.9, 8)]], iou=0.5)  # IoU 2/18
    assert [d.box.x for d in fused] == [8, 0]
    assert [d.confidence for d in fused] == [pytest.approx(0.45), pytest.approx(0.25)]


def test_one_member_counts_once_per_cluster_by_its_best_box():
    # a member's second, looser box on the same gun must not add to the score
    fused = fuse_boxes([[gun(0.9, 0), gun(0.3, 1)], []], iou=0.5)
    assert [d.confidence for d in fused] == [pytest.approx(0.45)]


def test_labels_never_fuse():
    fused = fuse_boxes([[gun(0.9, 0)], [gun(0.9, 0, label="knife")]], iou=0.5)
    assert sorted(d.label for d in fused) == ["gun", "knife"]


def test_no_boxes_no_detections():
    assert fuse_boxes([[], []], iou=0.5) == []


class Fixed:
    def __init__(self, name, found):
        self.name, self.found, self.closed = name, found, False

    def detect(self, frame):
        return self.found

    def close(self):
        self.closed = True


def test_fused_detector_applies_its_threshold_to_fused_scores_and_closes_members():
    a, b = Fixed("opencv", [gun(0.9, 0), gun(0.7, 100)]), Fixed("darknet", [gun(0.8, 1)])
    detector = FusedDetector([a, b], iou=0.5, confidence=0.5)
    found = detector.detect(np.zeros((8, 8, 3), np.uint8))
    assert detector.name == "opencv+darknet"
    assert [round(d.confidence, 2) for d in found] == [0.85]  # the lone 0.7 box fused to 0.35
    detector.close()
    assert a.closed and b.closed


class BrightBlock:
    """Boxes the lit columns of the frame, so a test can tell which side it was shown."""

    name = "opencv"

    def __init__(self):
        self.closed = False

    def detect(self, frame):
        lit = np.flatnonzero(frame.max(axis=(0, 2)))
        return [gun(0.9, float(lit[0]), 0.0, float(lit[-1] + 1 - lit[0]), float(frame.shape[0]))]

    def close(self):
        self.closed = True


def test_mirrored_member_sees_the_flipped_frame_and_reports_unflipped_boxes():
    frame = np.zeros((20, 100, 3), np.uint8)
    frame[:, 10:25] = 255
    inner = BrightBlock()
    mirrored = MirroredDetector(inner)
    assert inner.detect(frame[:, ::-1])[0].box.x == 75  # what the network itself sees
    (found,) = mirrored.detect(frame)
    assert (found.box.x, found.box.w) == (10, 15)
    assert mirrored.name == "opencv-mirrored"


def test_mirrored_looks_fuse_with_the_plain_ones_and_the_network_closes_once():
    frame = np.zeros((20, 100, 3), np.uint8)
    frame[:, 60:70] = 255
    inner = BrightBlock()
    detector = FusedDetector([inner], iou=0.5, confidence=0.5, second_look=[MirroredDetector(inner)])
    (found,) = detector.detect(frame)
    assert found.confidence == pytest.approx(0.9) and found.box.x == pytest.approx(60)
    detector.close()
    assert inner.closed


class Counting(Fixed):
    def __init__(self, name, found):
        super().__init__(name, found)
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return self.found


def test_second_look_runs_only_when_the_first_look_reaches_the_trigger():
    frame = np.zeros((8, 8, 3), np.uint8)
    second = Counting("opencv-mirrored", [gun(0.9, 0)])
    quiet = FusedDetector([Fixed("opencv", [gun(0.38, 0)])], iou=0.5, confidence=0.3,
                          second_look=[second], second_look_trigger=0.4)
    (alone,) = quiet.detect(frame)
    # below the trigger: the first look's answer, scored among first-look members only
    assert second.calls == 0 and alone.confidence == pytest.approx(0.38)
    busy = FusedDetector([Fixed("opencv", [gun(0.4, 0)])], iou=0.5, confidence=0.3,
                         second_look=[second], second_look_trigger=0.4)
    (both,) = busy.detect(frame)
    assert second.calls == 1 and both.confidence == pytest.approx((0.4 + 0.9) / 2)


def test_without_a_trigger_the_second_look_always_runs_even_on_an_empty_frame():
    second = Counting("opencv-mirrored", [gun(0.9, 0)])
    detector = FusedDetector([Fixed("opencv", [])], iou=0.5, confidence=0.3, second_look=[second])
    (found,) = detector.detect(np.zeros((8, 8, 3), np.uint8))
    assert second.calls == 1 and found.confidence == pytest.approx(0.45)
    assert detector.name == "opencv+opencv-mirrored"
