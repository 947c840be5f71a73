"""Contract tests of what gunwatch writes where ZoneMinder users and tools read it: the hook line
zmeventnotification parses, objects.json as pyzm writes it, event Notes, frame origins; and the
small pure checks of the adapter (config, JPEG completeness, secret masking)."""

import json

import pytest
from pydantic import ValidationError

from gunwatch.domain import BBox, Detection
from gunwatch.integrations.zoneminder.client import redact
from gunwatch.integrations.zoneminder.config import ZoneMinderSourceConfig
from gunwatch.integrations.zoneminder.formats import (has_our_notes, hook_line, merge_notes, objects_json, origin_of,
                                         parse_origin)
from gunwatch.integrations.zoneminder.source import jpeg_complete

GUN = Detection("gun", 0.9337, BBox(100.4, 50.0, 80.0, 40.6))
KNIFE = Detection("knife", 0.61, BBox(10, 10, 5, 5))
GUN_WEAK = Detection("gun", 0.55, BBox(300, 200, 20, 10))


def test_hook_line_is_what_zmeventnotification_parses():
    line = hook_line("alarm", [GUN_WEAK, GUN], 640, 480)
    text, _, payload = line.partition("--SPLIT--")
    # zm_detect.py with show_percent: "<prefix>detected:<label>:<pct>% " per label, best first
    assert text == "[a] detected:gun:93% "
    assert json.loads(payload) == {
        "labels": ["gun", "gun"],
        "boxes": [[100, 50, 180, 91], [300, 200, 320, 210]],
        "frame_id": "alarm",
        "confidences": [0.9337, 0.55],
        "image_dimensions": {"original": [480, 640], "resized": None},
    }


@pytest.mark.parametrize("frame, prefix", [("alarm", "[a] "), ("snapshot", "[s] "), ("17", "[x] ")])
def test_hook_line_prefix_names_the_frame(frame, prefix):
    assert hook_line(frame, [GUN], 640, 480).startswith(prefix + "detected:")


def test_hook_line_lists_each_label_once_best_first():
    text = hook_line("alarm", [KNIFE, GUN, GUN_WEAK], 640, 480).split("--SPLIT--")[0]
    assert text == "[a] detected:gun:93% knife:61% "


def test_no_detection_means_no_output():
    assert hook_line("alarm", [], 640, 480) == ""


def test_objects_json_has_exactly_pyzms_keys():
    assert set(objects_json("5", [GUN], 1920, 1080)) == {"labels", "boxes", "frame_id", "confidences",
                                                          "image_dimensions"}


def test_notes_go_in_front_of_what_zoneminder_wrote():
    assert merge_notes("Forced Web: ", [GUN]) == "gun 93% [gunwatch] | Forced Web: "
    assert merge_notes("Motion: All", [GUN, KNIFE]) == "gun 93% knife 61% [gunwatch] | Motion: All"
    assert merge_notes("", [GUN]) == "gun 93% [gunwatch]"
    assert merge_notes(None, [GUN]) == "gun 93% [gunwatch]"


def test_notes_replace_our_earlier_text_instead_of_stacking():
    once = merge_notes("Motion: All", [GUN_WEAK])
    assert merge_notes(once, [GUN]) == "gun 93% [gunwatch] | Motion: All"
    assert merge_notes(merge_notes("", [GUN_WEAK]), [GUN]) == "gun 93% [gunwatch]"
    assert has_our_notes(once) and not has_our_notes("Motion: All") and not has_our_notes(None)


def test_origin_round_trip_and_other_sources_ignored():
    assert origin_of(42, "alarm") == "zoneminder:42:alarm"
    assert parse_origin("zoneminder:42:alarm") == (42, "alarm")
    assert parse_origin("zoneminder:42:17") == (42, "17")
    assert parse_origin("/snapshots/door/1.jpg") is None
    assert parse_origin("frigate:cam:ev1") is None
    assert parse_origin("zoneminder:x:1") is None


def test_jpeg_complete_needs_both_markers():
    assert jpeg_complete(b"\xff\xd8" + b"x" * 100 + b"\xff\xd9")
    assert jpeg_complete(b"\xff\xd8" + b"x" * 100 + b"\xff\xd9\x00\x00")  # padding after EOI
    assert not jpeg_complete(b"\xff\xd8" + b"x" * 100)                   # still being written
    assert not jpeg_complete(b"GIF89a" + b"\xff\xd9")


def test_redact_masks_tokens_and_passwords():
    url = "http://zm/zm/api/events.json?sort=Id&token=eyJ0eXAi.abc.def&x=1"
    assert redact(url) == "http://zm/zm/api/events.json?sort=Id&token=***&x=1"
    assert "secret" not in redact("login failed: user=admin&pass=secret")


def test_check_password_needs_user():
    with pytest.raises(ValidationError, match="password is set but user is not"):
        ZoneMinderSourceConfig(type="zoneminder", password="x")
    config = ZoneMinderSourceConfig(type="zoneminder", user="admin", password="x",
                                    url="https://nvr.example/zm/")
    assert config.api == "https://nvr.example/zm/api"
    assert config.portal == "https://nvr.example/zm"
