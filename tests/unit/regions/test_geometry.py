"""Region geometry on hand-computed cases: crops at frame edges, tiles, mapping back, NMS."""

from __future__ import annotations

import pytest

from gunwatch.domain import BBox, Detection
from gunwatch.regions.base import Region, merge, square_crop, to_frame, without_repeats
from gunwatch.regions.config import ModePlan, RegionSettings, resolve_modes
from gunwatch.regions.grid import grid


def test_crop_is_a_grown_square_around_the_box():
    # person 100x200 centred at (500, 400): side 200 * 1.25 = 250, centred
    assert square_crop(BBox(450, 300, 100, 200), 1920, 1080, 0.25, 128) == BBox(375, 275, 250, 250)


def test_small_box_gets_the_minimum_side():
    assert square_crop(BBox(990, 490, 20, 20), 1920, 1080, 0.25, 256) == BBox(872, 372, 256, 256)


@pytest.mark.parametrize("box, expected", [
    (BBox(0, 0, 40, 100), BBox(0, 0, 256, 256)),              # top-left corner: shifted in
    (BBox(1900, 1000, 20, 80), BBox(1664, 824, 256, 256)),    # bottom-right corner
    (BBox(1000, -50, 40, 100), BBox(892, 0, 256, 256)),       # a box poking out above the frame
])
def test_crop_at_the_frame_edge_is_shifted_inside_not_cut(box, expected):
    assert square_crop(box, 1920, 1080, 0.25, 256) == expected


def test_crop_never_exceeds_the_frame_shorter_side():
    # a person filling the frame's height: 1000 * 1.25 would be 1250, the frame has 1080
    assert square_crop(BBox(800, 40, 300, 1000), 1920, 1080, 0.25, 256) == BBox(410, 0, 1080, 1080)
    # a frame smaller than the minimum crop: the crop is the frame's shorter side
    assert square_crop(BBox(10, 10, 20, 20), 200, 120, 0.25, 256) == BBox(0, 0, 120, 120)


def test_boxes_found_in_a_crop_move_back_by_its_offset():
    region = Region("person", BBox(872, 372, 256, 256))
    found = [Detection("gun", 0.8, BBox(10, 20, 30, 15))]
    assert to_frame(found, region) == [Detection("gun", 0.8, BBox(882, 392, 30, 15))]


def test_merge_keeps_the_surer_of_two_boxes_on_one_gun_and_every_separate_gun():
    from_crop = Detection("gun", 0.9, BBox(100, 100, 40, 20))
    from_whole = Detection("gun", 0.7, BBox(102, 101, 40, 20))     # IoU ~0.86 with from_crop
    elsewhere = Detection("gun", 0.65, BBox(600, 300, 40, 20))
    other_class = Detection("knife", 0.8, BBox(100, 100, 40, 20))  # NMS is per class
    assert merge([from_whole, elsewhere, from_crop, other_class], nms=0.4) == [from_crop, other_class, elsewhere]


def test_a_crop_mostly_inside_an_earlier_one_is_dropped_but_never_for_the_whole_frame():
    whole = Region("whole", BBox(0, 0, 1920, 1080))
    first = Region("person", BBox(100, 100, 300, 300))
    inside = Region("person", BBox(120, 110, 280, 280))   # 100 % inside first
    apart = Region("person", BBox(300, 100, 300, 300))    # a third inside first
    assert without_repeats([whole, first, inside, apart]) == [whole, first, apart]


def test_tiles_cover_the_frame_with_the_asked_overlap():
    tiles = grid(1920, 1080, 3, 2, 0.2)
    assert len(tiles) == 6
    # tile width w with 3w - 2 * 0.2w = 1920: w = 738.46; the second starts at 0.8 w
    assert tiles[0] == BBox(0, 0, 738, 600)
    assert tiles[1].x == 591 and tiles[2].x + tiles[2].w == 1920
    assert tiles[3].y == 480 and tiles[5].y + tiles[5].h == 1080
    overlap = tiles[0].x + tiles[0].w - tiles[1].x
    assert overlap == pytest.approx(0.2 * 738.46, abs=1)


def test_auto_uses_person_regions_on_frames_larger_than_twice_the_model_input():
    auto = RegionSettings()
    assert resolve_modes(auto, 1920, 1080, 416) == ModePlan(["person"], whole_when_empty=True)
    assert resolve_modes(auto, 832, 468, 416) == ModePlan(["whole"])
    assert resolve_modes(auto, 300, 200, 416) == ModePlan(["whole"])
    assert resolve_modes(RegionSettings(modes=["tiles"]), 300, 200, 416) == ModePlan(["tiles"])
    assert resolve_modes(RegionSettings(modes=["whole", "person"]), 1920, 1080, 416) == ModePlan(["whole", "person"])
