"""`gunwatch run` following a real ZoneMinder: guns found in recorded events and written back
(Notes, objdetect.jpg, objects.json, forced alarm), gun-free events left alone, auth with tokens,
an event deleted while analysed, ZoneMinder and gunwatch restarting, corrupt frame files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import pytest

from ...conftest import need
from ...support.webhook_receiver import WebhookReceiver
from .conftest import MONITOR, wait

pytestmark = pytest.mark.zoneminder

NOTES = r"^{label} \d+% \[gunwatch\]"


def objdetect(event: dict) -> tuple[dict, tuple[int, int]] | None:
    folder = Path(event["FileSystemPath"])
    if not (folder / "objdetect.jpg").exists():
        return None
    image = cv2.imread(str(folder / "objdetect.jpg"))
    return json.loads((folder / "objects.json").read_text()), image.shape[:2]


def test_guns_found_and_written_back_gun_free_events_left_alone(service, zoneminder, subject):
    zm = zoneminder
    with WebhookReceiver() as hook:
        svc = service("    alarm: zmtrigger\n    alarm_s: 3",
                      top=f"alerts: {{channels: {{hook: {{type: webhook, url: '{hook.url}'}}}}}}")
        # A short alarm: gunwatch's zmtrigger alarm comes after the test's own has ended, so
        # what it records is gunwatch's doing.
        gun = zm.record(subject.guns[0], seconds=0.3)
        assert wait(lambda: svc.marked(gun), 40), svc.log()[-3000:]
        clean = zm.record(subject.clean[0])
        assert wait(lambda: svc.done(clean), 40) == "all frames analysed", svc.log()[-3000:]
        assert wait(lambda: hook.received, 20), svc.log()[-3000:]
        alerts = [r["body"]["incident"] for r in hook.received]

    # The gun event: notes in front of ZoneMinder's (checked again once it closed), the
    # annotated frame and objects.json beside it, the incident queued.
    event = zm.wait_closed(gun)
    assert wait(lambda: re.match(NOTES.format(label=subject.label), zm.event(gun)["Notes"]), 20), zm.event(gun)
    assert "Forced Web" in zm.event(gun)["Notes"]
    objects, size = objdetect(event)
    assert size == (480, 640)
    assert subject.label in objects["labels"] and objects["image_dimensions"]["original"] == [480, 640]
    assert all(0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480 for x1, y1, x2, y2 in objects["boxes"])
    incidents = svc.incidents()
    assert [i for i in incidents if i["kind"] == "opened" and i["event_id"] == str(gun)], incidents
    assert incidents[0]["origin"].startswith(f"zoneminder:{gun}:")
    assert incidents[0]["url"].endswith(f"view=event&eid={gun}")
    # zmtrigger put the monitor in alarm: ZoneMinder recorded the cause `gunwatch`, in the gun
    # event (whose notes it rewrote, and gunwatch wrote back) or in a new event.
    later = [gun] + [e["Id"] for e in zm.events_after(gun) if e["Id"] != clean]
    assert any("gunwatch:" in (zm.event(e)["Notes"] or "") or zm.event(e)["Cause"] == "gunwatch" for e in later)

    # The alert went out through the alerting pipeline (a webhook here), for the gun event only.
    assert alerts[0]["event_id"] == str(gun) and alerts[0]["label"] == subject.label
    assert str(clean) not in {a["event_id"] for a in alerts}

    # The gun-free event: nothing written, no incident.
    closed = zm.wait_closed(clean)
    assert closed["Notes"] == "Forced Web: "
    assert objdetect(closed) is None
    assert not [i for i in svc.incidents() if i["event_id"] == str(clean)]
    svc.assert_clean_run()
    assert svc.stop() == 0


def test_auth_with_renewed_tokens_and_frames_through_the_api(service, zoneminder, subject):
    zm = zoneminder
    zm.set_auth(True)
    try:
        # Without credentials, the log says what to fix.
        service(ready="set user and password in the config")
        # ZoneMinder 1.36 issues tokens for 2 h; renewing 7195 s early renews every 5 s.
        svc = service("    user: admin\n    password: ${GUNWATCH_TEST_ZM_PASSWORD}\n    token_renew_s: 7195\n"
                      "    watch: api\n    frames_from: api\n    poll_s: 0.5\n    alarm: api\n    alarm_s: 2",
                      env={"GUNWATCH_TEST_ZM_PASSWORD": "admin"})
        gun = zm.record(subject.guns[1])
        assert wait(lambda: svc.marked(gun), 40), svc.log()[-3000:]
        clean = zm.record(subject.clean[1])
        assert wait(lambda: svc.done(clean), 40), svc.log()[-3000:]
        assert wait(lambda: "renewed the access token" in svc.log(), 10)
        log = svc.log()
        assert "logged in as admin" in log
        assert f"event={gun} camera={MONITOR}: following (frames from the API)" in log
        assert "alarm for 2 s through the API" in log
        assert "eyJ" not in log, "an access token reached the log"
        assert zm.event(clean)["Notes"] == "Forced Web: "
        # the forced alarm ends by itself (gunwatch cancels it after alarm_s)
        zm.wait_idle(20)
        svc.assert_clean_run()
    finally:
        zm.set_auth(False)


def test_event_deleted_while_analysed(service, zoneminder, subject):
    zm = zoneminder
    svc = service("    sample_every: 1\n    frames_per_event: 500")
    doomed = zm.start_event(subject.clean[0])
    try:
        assert wait(lambda: sum(e == doomed for e, _ in svc.analysed()) >= 3, 30), svc.log()[-3000:]
        zm.delete(doomed)
    finally:
        zm.stop_event()
    assert wait(lambda: svc.done(doomed), 20) == "deleted in ZoneMinder", svc.log()[-3000:]
    gun = zm.record(subject.guns[0])
    assert wait(lambda: svc.marked(gun), 40), svc.log()[-3000:]
    svc.assert_clean_run()


def test_restarts_of_zoneminder_and_gunwatch_miss_nothing_and_repeat_nothing(service, zoneminder, subject):
    zm = zoneminder
    svc = service()
    first = zm.record(subject.guns[0])
    assert wait(lambda: svc.marked(first), 40), svc.log()[-3000:]

    # The web server goes down while the recorder records on: gunwatch follows the new event on
    # disk, confirms the gun and files its write-back, which waits for the API. gunwatch is then
    # killed (-9) with the write-back still owed, and all of ZoneMinder stops and starts again:
    # the next gunwatch writes it from its journal, without analysing the event again.
    zm.web(False)
    try:
        zm.trigger(subject.guns[1], seconds=2)
        assert wait(lambda: "recorder unavailable for notes:" in svc.log(), 40), svc.log()[-3000:]
        assert wait(lambda: svc.log().count("(gun confirmed)") >= 2, 20), svc.log()[-3000:]
        svc.kill()
    finally:
        zm.restart()
    offline = [e["Id"] for e in zm.events_after(first)]
    assert len(offline) == 1, offline
    assert not svc.marked(offline[0])
    svc.start()
    assert wait(lambda: svc.marked(offline[0]), 60), svc.log()[-3000:]
    assert f"event={offline[0]} " not in svc.log_since_start(), "analysed again instead of written from the journal"
    after = zm.record(subject.guns[0])
    clean = zm.record(subject.clean[0])
    assert wait(lambda: svc.marked(after), 60), svc.log()[-3000:]
    assert wait(lambda: svc.done(clean), 40), svc.log()[-3000:]
    assert "ZoneMinder API unavailable" in svc.log()

    # gunwatch goes down; an event is recorded meanwhile; gunwatch comes back.
    assert svc.stop() == 0
    missed = zm.record(subject.guns[1])
    zm.wait_closed(missed)
    svc.start()
    assert wait(lambda: svc.marked(missed), 40), svc.log()[-3000:]
    second_run = svc.log_since_start()
    for old in (first, offline[0], after, clean):
        assert f"event={old} " not in second_run, f"event {old} followed again after the restart"
    assert zm.event(clean)["Notes"] == "Forced Web: "
    svc.assert_clean_run()


def test_corrupt_and_truncated_frames_are_skipped(service, zoneminder, subject):
    zm = zoneminder
    # gunwatch has seen this ZoneMinder before and is down while the event is recorded (and its
    # frames damaged): its next start picks the event up.
    svc = service()
    assert svc.stop() == 0
    recorded = zm.record(subject.guns[0], seconds=2.0)
    event = zm.wait_closed(recorded)
    folder = Path(event["FileSystemPath"])
    need(os.access(folder, os.W_OK), f"cannot write in ZoneMinder's event folder {folder} (run as root)")
    first_alarm = int(zm.get(f"events/{recorded}.json")["event"]["Event"]["AlarmFrameId"])
    # The two frames analysed right after alarm.jpg: one garbage with JPEG markers, one cut short
    # (as a full disk leaves it), both with their original time.
    garbage, cut = (folder / f"{first_alarm + n:05d}-capture.jpg" for n in (1, 2))
    written = cut.stat().st_mtime
    garbage.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000) + b"\xff\xd9")
    cut.write_bytes(cut.read_bytes()[:3000])
    for path in (garbage, cut):
        os.utime(path, (written, written))
    svc.start()
    assert wait(lambda: svc.marked(recorded), 40), svc.log()[-3000:]
    log = svc.log()
    assert f"event={recorded} camera={MONITOR}: skipped frame {first_alarm + 1}: does not decode" in log
    assert f"event={recorded} camera={MONITOR}: skipped frame {first_alarm + 2}: truncated" in log
    svc.assert_clean_run()
