"""The region stage with recording detectors: which crops the gun model gets, the cap and its
count, boxes mapped back and merged, person passes reused on still scenes, motion regions."""

from __future__ import annotations

import numpy as np

from gunwatch.domain import BBox, Detection
from gunwatch.regions.config import RegionSettings
from gunwatch.regions.motion import MotionRegions
from gunwatch.regions.stage import RegionDetector


class RecordingGun:
    """Finds one gun at a fixed place of every crop it is shown, and remembers the crops' sizes."""

    name = "recording"

    def __init__(self, box=BBox(10, 10, 20, 10), confidence=0.8):
        self.box, self.confidence, self.shapes = box, confidence, []

    def detect(self, image):
        self.shapes.append(image.shape[:2])
        return [Detection("gun", self.confidence, self.box)]


class Persons:
    """A person detector that reports the given persons (and a dog), counting its calls."""

    name = "persons"

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def detect(self, image):
        self.calls += 1
        return [Detection("person", 0.9, b) for b in self.boxes] + [Detection("dog", 0.9, BBox(0, 0, 50, 50))]


def stage(gun, person=None, **settings):
    return RegionDetector(gun, nms=0.45, model_side=416,
                          settings_for=lambda camera: RegionSettings(**settings), person=person)


def frame(value=0):
    return np.full((1080, 1920, 3), value, np.uint8)


def test_person_crops_reach_the_gun_model_and_their_boxes_come_back_in_frame_pixels():
    gun = RecordingGun()
    person = Persons([BBox(450, 300, 100, 200)])
    result = stage(gun, person, modes=["whole", "person"]).detect_regions("cam", frame(), 0.0)
    assert [r.kind for r in result.regions] == ["whole", "person"]
    assert gun.shapes == [(1080, 1920), (256, 256)]     # 200 * 1.25 = 250 < min_crop 256
    # the crop's box (10, 10) + its corner (372, 272), and the whole frame's own box at (10, 10)
    assert sorted(d.box.as_list(0) for d in result.detections) == [[10, 10, 20, 10], [382, 282, 20, 10]]
    assert person.calls == 1 and result.person_ms > 0


def test_auto_looks_at_the_persons_of_a_large_frame_and_at_the_whole_frame_when_there_are_none():
    gun = RecordingGun()
    person = Persons([BBox(450, 300, 100, 200)])
    result = stage(gun, person).detect_regions("cam", frame(), 0.0)
    assert [r.kind for r in result.regions] == ["person"] and gun.shapes == [(256, 256)]
    gun.shapes.clear()
    person.boxes = []
    result = stage(gun, person).detect_regions("cam", frame(), 0.0)
    assert [r.kind for r in result.regions] == ["whole"] and gun.shapes == [(1080, 1920)]
    assert person.calls == 2


def test_the_cap_keeps_the_whole_frame_and_the_largest_persons_and_counts_the_rest():
    gun = RecordingGun()
    person = Persons([BBox(100 + 400 * i, 300, 50 + 10 * i, 300 + 50 * i) for i in range(4)])
    result = stage(gun, person, modes=["person", "whole"], max_regions=3).detect_regions("cam", frame(), 0.0)
    assert [r.kind for r in result.regions] == ["whole", "person", "person"]
    assert [r.box.w for r in result.regions[1:]] == [562, 500]   # the two tallest: 450 and 400 * 1.25
    assert result.dropped == 2


def test_one_gun_seen_in_two_overlapping_regions_is_one_detection():
    gun = RecordingGun(box=BBox(600, 500, 40, 20))
    # Two tiles 1280 wide with half overlap, at x 0 and 640. The whole frame and the first tile
    # report the same frame box (merged into one); the second tile's lands at 640 + 600.
    result = stage(gun, modes=["whole", "tiles"], tiles=(2, 1), tile_overlap=0.5,
                   max_regions=3).detect_regions("cam", frame(), 0.0)
    assert len(result.regions) == 3
    assert sorted(d.box.x for d in result.detections) == [600, 1240]


def test_persons_are_reused_while_the_scene_is_still_and_looked_for_again_when_it_moves():
    person = Persons([BBox(450, 300, 100, 200)])
    regions = stage(RecordingGun(), person, modes=["person"], person_every_s=1.0)
    still = frame(40)
    regions.detect_regions("cam", still, 0.0)
    regions.detect_regions("cam", still, 0.5)     # within person_every_s
    regions.detect_regions("cam", still, 5.0)     # still scene: reused
    assert person.calls == 1
    moved = still.copy()
    moved[300:600, 800:1000] = 255                # somebody walked in
    result = regions.detect_regions("cam", moved, 6.0)
    assert person.calls == 2 and result.person_ms > 0
    regions.detect_regions("cam", moved, 17.0)    # still, but 11 s since the last pass
    assert person.calls == 3


def test_person_every_s_zero_runs_the_person_model_on_every_frame():
    person = Persons([])
    regions = stage(RecordingGun(), person, modes=["person"], person_every_s=0)
    for t in range(3):
        regions.detect_regions("cam", frame(), float(t))  # a still scene, and still no reuse
    assert person.calls == 3


def test_cameras_keep_their_own_persons():
    person = Persons([BBox(450, 300, 100, 200)])
    regions = stage(RecordingGun(), person, modes=["person"])
    regions.detect_regions("a", frame(), 0.0)
    regions.detect_regions("b", frame(), 0.0)
    assert person.calls == 2


def test_motion_regions_surround_what_moved_and_nothing_on_the_first_frame():
    motion = MotionRegions(RegionSettings(modes=["motion"]))
    empty = frame(60)
    assert motion.propose(empty, 0.0) == []
    walked_in = empty.copy()
    walked_in[500:700, 1500:1580] = 200           # an 80x200 figure
    regions = motion.propose(walked_in, 1.0)
    assert len(regions) == 1
    box = regions[0].box
    assert box.w == box.h >= 256
    assert box.x <= 1500 and box.x + box.w >= 1580 and box.y <= 500 and box.y + box.h >= 700


def test_a_whole_scene_change_gives_no_motion_regions():
    motion = MotionRegions(RegionSettings(modes=["motion"]))
    motion.propose(frame(20), 0.0)
    assert motion.propose(frame(220), 1.0) == []  # lights on: the whole frame pass covers it


def test_frames_smaller_than_the_model_input_work_in_every_mode():
    gun = RecordingGun(box=BBox(5, 5, 10, 10))
    person = Persons([BBox(20, 20, 30, 60)])
    small = np.zeros((120, 160, 3), np.uint8)
    for modes in (["auto"], ["whole", "person", "motion", "tiles"]):
        result = stage(gun, person, modes=modes, max_regions=10).detect_regions("cam", small, 0.0)
        assert result.detections and all(0 <= d.box.x < 160 and 0 <= d.box.y < 120 for d in result.detections)
        assert all(r.box.x + r.box.w <= 160 and r.box.y + r.box.h <= 120 for r in result.regions)
