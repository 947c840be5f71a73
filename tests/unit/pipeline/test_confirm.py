"""Confirmation on synthetic detection sequences: flicker, one-frame false positives, two guns,
a gun leaving and returning, stationary look-alikes, snapshot-only sources."""

import pytest

from gunwatch.domain import BBox, Detection
from gunwatch.pipeline.confirm import CameraConfirmer, ConfirmSettings, Confirmer

S = ConfirmSettings(hits=3, window=5, within_s=10, lost_after_s=3, cooldown_s=30, update_every_s=5,
                    stationary_after_s=60)


def gun(x=100.0, conf=0.8, y=100.0):
    return Detection("gun", conf, BBox(x, y, 50, 30))


def feed(confirmer, frames, start=0.0, step=0.5):
    """frames: list of detection lists, one per analysed frame; returns (time, kind) events."""
    events = []
    for i, dets in enumerate(frames):
        at = start + i * step
        events += [(at, c.kind, c.incident) for c in confirmer.observe(at, dets)]
    return events


def kinds(events):
    return [k for _, k, _ in events]


def test_single_frame_false_positive_never_alerts():
    c = CameraConfirmer("cam", S)
    assert feed(c, [[gun()], [], [], [], [], [gun(300)], [], []]) == []


def test_confirms_on_nth_hit_in_window():
    events = feed(CameraConfirmer("cam", S), [[gun()], [], [gun(102)], [gun(104)]])
    assert kinds(events) == ["opened"]
    at, _, incident = events[0]
    assert at == 1.5 and incident.camera == "cam" and incident.update == 0


def test_flicker_below_n_of_m_does_not_confirm():
    # every other frame: 2 hits in any 4 consecutive frames... and 3 in 5 would confirm,
    # so use every third frame
    frames = [[gun()] if i % 3 == 0 else [] for i in range(15)]
    assert feed(CameraConfirmer("cam", ConfirmSettings(hits=3, window=5, lost_after_s=10)), frames) == []


def test_hits_must_fall_within_t_seconds():
    slow = feed(CameraConfirmer("cam", S), [[gun()], [gun()], [gun()]], step=6.0)
    assert slow == []  # 3 hits spread over 12 s > 10 s


def test_gun_moving_is_followed_as_one_track():
    frames = [[gun(100 + 20 * i)] for i in range(6)]  # 20 px per frame on a 50 px box: IoU ~0.43
    events = feed(CameraConfirmer("cam", S), frames)
    assert kinds(events) == ["opened"]


def test_one_incident_with_updates_for_two_guns():
    c = CameraConfirmer("cam", S)
    frames = [[gun(100)]] * 3 + [[gun(100), gun(400, conf=0.95)]] * 12
    events = feed(c, frames)
    assert kinds(events) == ["opened", "updated"]
    opened, updated = events[0][2], events[1][2]
    assert updated.id == opened.id and updated.update == 1 and updated.confidence == 0.95


def test_gun_leaving_and_returning_within_cooldown_is_the_same_incident():
    c = CameraConfirmer("cam", S)
    events = feed(c, [[gun()]] * 3 + [[]] * 10 + [[gun()]] * 3)
    assert kinds(events) == ["opened", "closed", "updated"]
    assert len({inc.id for _, _, inc in events}) == 1


def test_gun_returning_after_cooldown_is_a_new_incident():
    c = CameraConfirmer("cam", S)
    first = feed(c, [[gun()]] * 3 + [[]] * 10)
    second = feed(c, [[gun()]] * 3, start=100.0)
    assert kinds(first) == ["opened", "closed"] and kinds(second) == ["opened"]
    assert first[0][2].id != second[0][2].id


def test_updates_are_rate_limited():
    c = CameraConfirmer("cam", S)
    frames = [[gun(conf=0.6 + 0.01 * i)] for i in range(30)]  # confidence rises every frame
    events = feed(c, frames)
    update_times = [at for at, kind, _ in events if kind == "updated"]
    assert kinds(events)[0] == "opened"
    assert all(b - a >= 5 for a, b in zip(update_times, update_times[1:]))
    assert len(update_times) == 2  # frames span 14.5 s after opening at 1.0 s


def test_stationary_look_alike_is_reported_once_and_stops_alerting():
    c = CameraConfirmer("cam", S)
    frames = [[gun()]] * 200  # 100 s at the same place
    events = feed(c, frames)
    assert kinds(events) == ["opened", "stationary", "closed"]
    stationary_at = events[1][0]
    assert stationary_at == pytest.approx(60.0)
    # it disappears and is found again at the same place: no new alarm
    assert feed(c, [[]] * 10 + [[gun()]] * 10, start=200.0) == []
    # a real gun elsewhere on the camera is a new incident straight away (no cooldown folding)
    later = feed(c, [[gun(600)]] * 3, start=300.0)
    assert kinds(later) == ["opened"]


def test_stationary_that_moves_counts_again():
    c = CameraConfirmer("cam", S)
    feed(c, [[gun()]] * 130)
    moved = feed(c, [[gun(100 + 15 * i)] for i in range(1, 8)], start=65.0)
    assert "updated" in kinds(moved) or "opened" in kinds(moved)


def test_snapshot_only_source_needs_the_higher_threshold():
    c = CameraConfirmer("cam", S)
    assert c.observe(0.0, [gun(conf=0.8)], single_frame=True) == []
    confirmed = CameraConfirmer("cam2", S).observe(0.0, [gun(conf=0.9)], single_frame=True, event_id="42")
    assert [x.kind for x in confirmed] == ["opened"] and confirmed[0].incident.event_id == "42"


def test_cameras_are_independent():
    confirmer = Confirmer(S, {"door": ConfirmSettings(hits=1, window=1)})
    assert [c.kind for c in confirmer.observe("door", 0.0, [gun()])] == ["opened"]
    assert confirmer.observe("yard", 0.0, [gun()]) == []


def test_settings_validated():
    with pytest.raises(ValueError, match="between 1 and window"):  # pydantic ValidationError
        ConfirmSettings(hits=6, window=5)


def test_gun_seen_again_much_later_is_a_new_incident():
    """Event sources send nothing between events: the old track must not swallow the new one."""
    c = CameraConfirmer("cam", ConfirmSettings(hits=3, window=5, lost_after_s=5, cooldown_s=60))
    first = feed(c, [[gun()]] * 3, step=0.2)
    later = feed(c, [[gun()]] * 3, start=3600.0, step=0.2)
    assert kinds(first) == ["opened"]
    assert kinds(later) == ["closed", "opened"]
    assert later[0][2].id == first[0][2].id and later[1][2].id != first[0][2].id


def test_stationary_place_is_forgotten_after_an_hour_unseen():
    c = CameraConfirmer("cam", S)
    feed(c, [[gun()]] * 200)                                  # reported stationary
    assert feed(c, [[gun()]] * 5, start=200.0) == []          # still muted there
    again = feed(c, [[gun()]] * 5, start=200.0 + 3700.0)      # nothing there for > 1 h
    assert "opened" in kinds(again)


def pictures(confirmer, times_and_detections, **kwargs):
    """Snapshot-only pictures (single_frame) at the given times; the kinds of what they raise."""
    return [c.kind for at, dets in times_and_detections
            for c in confirmer.observe(at, dets, single_frame=True, **kwargs)]


def test_a_burst_of_snapshots_confirms_at_the_detectors_threshold():
    # Three pictures a second apart (one recorder event): a gun at 0.7 in two of them confirms,
    # where one picture alone would need 0.85.
    c = CameraConfirmer("cam", ConfirmSettings(burst_s=5, burst_hits=2))
    assert pictures(c, [(0.0, [gun(conf=0.7)]), (1.0, []), (2.0, [gun(x=104, conf=0.72)])]) == ["opened"]


def test_lone_snapshots_keep_the_single_picture_rule():
    # The same sightings minutes apart are separate events: none reaches 0.85, nothing confirms.
    c = CameraConfirmer("cam", ConfirmSettings(burst_s=5, burst_hits=2))
    assert pictures(c, [(0.0, [gun(conf=0.7)]), (120.0, [gun(conf=0.7)]), (240.0, [gun(conf=0.8)])]) == []
    assert pictures(c, [(360.0, [gun(conf=0.9)])]) == ["opened"]


def test_burst_s_zero_treats_every_picture_alone():
    c = CameraConfirmer("cam", ConfirmSettings(burst_s=0))
    assert pictures(c, [(0.0, [gun(conf=0.7)]), (1.0, [gun(conf=0.7)]), (2.0, [gun(conf=0.7)])]) == []


def test_burst_needs_the_same_gun_in_enough_pictures():
    # Two look-alikes at different places, once each, are not one gun seen twice.
    c = CameraConfirmer("cam", ConfirmSettings(burst_s=5, burst_hits=2))
    assert pictures(c, [(0.0, [gun(x=100, conf=0.7)]), (1.0, [gun(x=600, conf=0.7)])]) == []
    # burst_hits above the stream window still counts (window=1 must not cap it at one).
    c = CameraConfirmer("cam", ConfirmSettings(hits=1, window=1, burst_s=5, burst_hits=3))
    assert pictures(c, [(0.0, [gun(conf=0.7)]), (1.0, [gun(conf=0.7)])]) == []
    assert pictures(c, [(2.0, [gun(conf=0.7)])]) == ["opened"]


def test_incident_keeps_the_origin_of_the_frame_that_opened_it():
    c = CameraConfirmer("cam", S)
    events = [k for i, dets in enumerate([[gun()]] * 3 + [[]] * 8)
              for k in c.observe(i * 0.5, dets, origin=f"frame{i}")]
    assert [(e.kind, e.incident.origin) for e in events] == [("opened", "frame2"), ("closed", "frame2")]
