"""The review pages through Flask's test client: list, filters, one incident, verdicts and the
negatives they write, pictures, cameras, /metrics and /healthz."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from gunwatch.alerts.outbox import NewAlert, Store
from gunwatch.cli import main
from gunwatch.config import GunwatchConfig
from gunwatch.domain import Frame

from .conftest import make_review, sighting

T0 = 1_760_000_000.0


def ids_on(html: str) -> list[str]:
    return re.findall(r'data-id="([^"]+)"', html)


def snapshots_dir(review):
    return review.config.state_dir / "snapshots"


def test_incidents_newest_first_with_thumbnail_and_filters(review):
    sd = snapshots_dir(review)
    old = sighting(review.sink, sd, "door", T0)
    mid = sighting(review.sink, sd, "yard", T0 + 60)
    new = sighting(review.sink, sd, "door", T0 + 120)
    page = review.client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ids_on(html) == [new.id, mid.id, old.id]
    assert 'name="viewport"' in html and "/static/style.css" in html
    thumb = re.search(r'<img src="(/snapshots/[^"]+thumb=1)"', html).group(1)
    picture = review.client.get(thumb)
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(picture.data, np.uint8), cv2.IMREAD_COLOR) is not None

    assert ids_on(review.client.get("/?camera=door").get_data(as_text=True)) == [new.id, old.id]
    csrf = review.csrf()
    review.client.post("/review", data={"id": mid.id, "state": "confirmed", "csrf": csrf})
    review.client.post("/review", data={"id": old.id, "state": "false_alarm", "csrf": csrf})
    assert ids_on(review.client.get("/?state=confirmed").get_data(as_text=True)) == [mid.id]
    assert ids_on(review.client.get("/?state=false_alarm").get_data(as_text=True)) == [old.id]
    assert ids_on(review.client.get("/?state=open").get_data(as_text=True)) == [new.id]
    assert ids_on(review.client.get("/?state=open&camera=yard").get_data(as_text=True)) == []
    assert review.client.get("/?state=bogus").status_code == 400


def test_pages_of_fifty(review):
    sd = snapshots_dir(review)
    made = [sighting(review.sink, sd, "door", T0 + n) for n in range(55)]
    first = ids_on(review.client.get("/").get_data(as_text=True))
    second = ids_on(review.client.get("/?page=2").get_data(as_text=True))
    assert first == [i.id for i in reversed(made)][:50]
    assert second == [i.id for i in reversed(made)][50:]


def test_unknown_incident_snapshot_and_camera_are_404(review):
    assert review.client.get("/incidents/nope:1:1").status_code == 404
    assert review.client.get("/snapshots/nope-0.jpg").status_code == 404
    assert review.client.get("/cameras/nope/frame.jpg").status_code == 404
    assert review.client.get("/no-such-page").status_code == 404
    csrf = review.csrf()
    assert review.client.post("/review", data={"id": "nope", "state": "confirmed", "csrf": csrf}).status_code == 404


@pytest.mark.parametrize("attempt", [
    "../outside.jpg", "..%2Foutside.jpg", "%2e%2e%2foutside.jpg", "%2E%2E/outside.jpg",
    "..%5Coutside.jpg", "....//outside.jpg", "%2Fetc%2Fpasswd", "/etc/passwd", "//etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd", "%252e%252e%252foutside.jpg", "../review.sqlite", "../web-secret",
    "link.jpg", ".hidden.jpg", "x.jpg%00.png"])
def test_snapshot_urls_cannot_leave_the_snapshot_folder(review, attempt):
    sd = snapshots_dir(review)
    sighting(review.sink, sd, "door", T0)
    outside = review.config.state_dir / "outside.jpg"
    outside.write_bytes(b"\xff\xd8 SECRET-OUTSIDE")
    (sd / "link.jpg").symlink_to(outside)
    (sd / ".hidden.jpg").write_bytes(b"\xff\xd8 SECRET-HIDDEN")
    for suffix in ("", "?thumb=1"):
        reply = review.client.get(f"/snapshots/{attempt}{suffix}")
        assert reply.status_code == 404, attempt
        assert b"SECRET" not in reply.data and b"root:" not in reply.data


def test_incident_page_shows_every_snapshot_recorder_link_and_alerts(review):
    sd = snapshots_dir(review)
    first = sighting(review.sink, sd, "door", T0)
    sighting(review.sink, sd, "door", T0, update=1, confidence=0.95, kind="updated")
    store = review.sink.store
    with store._db:
        store._db.execute("UPDATE incidents SET url = 'http://nvr.local/zm/?view=event&eid=42', event_id = '42'")
    outbox = Store(review.config.state_dir / "alerts.sqlite")
    outbox.add_incident(first, T0, None, [NewAlert("sms", "+15551234567", "queued", T0, None, None),
                                          NewAlert("mail", "guard@example.org", "queued", T0, None, None)])
    outbox.record_failed(1, "Twilio said 21211 (invalid To)", T0 + 5)
    outbox.close()
    html = review.client.get(f"/incidents/{first.id}").get_data(as_text=True)
    assert html.count('<figure>') == 2 and "update 1" in html and "95" in html
    assert 'href="http://nvr.local/zm/?view=event&amp;eid=42"' in html
    assert "+1******4567" in html and "g***@example.org" in html and "invalid To" in html
    assert "5551234567" not in html and "guard@" not in html
    listing = review.client.get("/").get_data(as_text=True)
    assert "sms +1******4567: failed" in listing and "mail g***@example.org: queued" in listing


def test_recorder_link_only_for_web_addresses(review):
    sighting(review.sink, snapshots_dir(review), "door", T0)
    with review.sink.store._db:
        review.sink.store._db.execute("UPDATE incidents SET url = 'javascript:alert(1)'")
    html = review.client.get(f"/incidents/door:{int(T0 * 1000)}:1").get_data(as_text=True)
    assert "javascript:" not in html


def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(review):
    incident = sighting(review.sink, snapshots_dir(review), "door", T0)
    for data in ({"id": incident.id, "state": "false_alarm"},
                 {"id": incident.id, "state": "false_alarm", "csrf": "forged"}):
        review.client.get("/")  # a session with a token of its own exists
        assert review.client.post("/review", data=data).status_code == 403
    assert review.sink.store.get(incident.id).state == "open"
    assert not (review.config.state_dir / "negatives").exists()
    # A token from another session is no good either.
    other = review.app.test_client()
    other.get("/")
    with other.session_transaction() as s:
        foreign = s["csrf"]
    assert review.client.post("/review", data={"id": incident.id, "state": "confirmed", "csrf": foreign}).status_code == 403
    assert review.sink.store.get(incident.id).state == "open"


def test_false_alarm_keeps_frames_and_boxes_as_negatives_and_confirmed_takes_them_back(review):
    sd = snapshots_dir(review)
    incident = sighting(review.sink, sd, "door", T0, scale=2.0)
    sighting(review.sink, sd, "door", T0, update=1, kind="updated", scale=2.0)
    csrf = review.csrf()
    reply = review.client.post("/review", data={"id": incident.id, "state": "false_alarm", "note": "a drill",
                                                "csrf": csrf})
    assert reply.status_code == 303
    found = review.sink.store.get(incident.id)
    assert (found.state, found.note) == ("false_alarm", "a drill")
    negatives = review.config.state_dir / "negatives"
    pictures = sorted(negatives.glob("*.jpg"))
    assert [p.name for p in pictures] == [f"door_{int(T0 * 1000)}_1-0.jpg", f"door_{int(T0 * 1000)}_1-1.jpg"]
    frame = cv2.imread(str(pictures[0]))
    assert frame.shape == (120, 160, 3)  # the frame as analysed, no box drawn on it
    assert int(frame[60, 80, 0]) in range(38, 43)
    sidecar = json.loads(pictures[0].with_suffix(".json").read_text())
    assert sidecar["camera"] == "door" and sidecar["model"] == "gun-yolov3-tiny" and sidecar["note"] == "a drill"
    assert sidecar["false_boxes"] == [[10.0, 15.0, 20.0, 10.0]]  # camera pixels / frame scale 2
    assert sidecar["time"].startswith("2025-10-09T")
    html = review.client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert 'id="negatives"' in html and "false alarm" in html

    review.client.post("/review", data={"id": incident.id, "state": "confirmed", "csrf": csrf})
    assert review.sink.store.get(incident.id).state == "confirmed"
    assert list(negatives.iterdir()) == []


def test_review_export_copies_negatives_with_sidecars(review, tmp_path, capsys):
    incident = sighting(review.sink, snapshots_dir(review), "door", T0)
    review.client.post("/review", data={"id": incident.id, "state": "false_alarm", "csrf": review.csrf()})
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {review.config.state_dir}\n")
    dest = tmp_path / "out" / "negatives"
    assert main(["review", "export", str(dest), "--config", str(config)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == [f"door_{int(T0 * 1000)}_1-0.jpg", f"door_{int(T0 * 1000)}_1-0.json"]
    assert "copied 1 gun-free pictures" in capsys.readouterr().out


def test_negatives_folder_is_what_train_prepare_takes_as_gun_free(review):
    from gunwatch.training.data.negatives import folder_pictures

    incident = sighting(review.sink, snapshots_dir(review), "door", T0)
    review.client.post("/review", data={"id": incident.id, "state": "false_alarm", "csrf": review.csrf()})
    negatives = review.config.state_dir / "negatives"
    assert folder_pictures(negatives) == sorted(negatives.glob("*.jpg"))  # sidecars left out


def test_cameras_page_draws_zones_and_masks_on_the_last_frame(tmp_path):
    r = make_review(tmp_path, cameras={"door": {"zones": [[[0, 0], [100, 0], [100, 100], [0, 100]]],
                                                "masks": [[[200, 100], [300, 100], [300, 200]]]}})
    try:
        image = np.zeros((240, 320, 3), np.uint8)
        r.sink.handle(Frame("door", image, T0, scale=(2.0, 2.0)), [], [])
        html = r.client.get("/cameras").get_data(as_text=True)
        assert "door" in html and "/cameras/door/frame.jpg" in html
        reply = r.client.get("/cameras/door/frame.jpg")
        drawn = cv2.imdecode(np.frombuffer(reply.data, np.uint8), cv2.IMREAD_COLOR)
        b, g, rr = (int(v) for v in drawn[25, 50])  # the zone's right edge, x=100/2
        assert g > 150 and rr < 120
        b, g, rr = (int(v) for v in drawn[50, 120])  # the mask's top edge, y=100/2
        assert rr > 180 and g < 120
        assert image.max() == 0  # the pipeline's frame is not drawn on
    finally:
        r.sink.close()
        r.app.extensions["gunwatch"]["store"].close()


def test_metrics_and_healthz_are_served(review):
    review.runner.counters.frames["door"] = 3
    metrics = review.client.get("/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    assert 'gunwatch_frames_total{camera="door"} 3.0' in metrics.get_data(as_text=True)
    health = review.client.get("/healthz")  # the runner was never started: no detector worker
    assert health.status_code == 503 and "detector worker is not running" in health.get_data(as_text=True)


def test_listening_beyond_this_machine_needs_a_login():
    with pytest.raises(ValidationError) as exc:
        GunwatchConfig.model_validate({"metrics": {"listen": "0.0.0.0"}})
    assert "metrics" in str(exc.value) and "token" in str(exc.value)
    with pytest.raises(ValidationError, match="user.*password"):
        GunwatchConfig.model_validate({"metrics": {"listen": "0.0.0.0", "user": "admin"}})
    with pytest.raises(ValidationError, match="16 characters"):
        GunwatchConfig.model_validate({"metrics": {"listen": "0.0.0.0", "token": "short"}})
    assert GunwatchConfig.model_validate({"metrics": {"listen": "::1"}}).metrics.login_required is False


def test_incidents_logged_before_the_review_pages_are_taken_in(tmp_path):
    from gunwatch.domain import BBox, Confirmation, Incident
    from gunwatch.sinks.incident_log import IncidentLog

    state = tmp_path / "state"
    log = IncidentLog(state / "incidents.jsonl")
    a = Incident(id="door:1:1", camera="door", started_at=T0, label="gun", confidence=0.7, box=BBox(1, 2, 3, 4),
                 snapshot=str(state / "snapshots" / "door_1_1-0.jpg"), url="http://nvr/e/1")
    b = Incident(id="yard:2:1", camera="yard", started_at=T0 + 9, label="gun", confidence=0.8, box=BBox(1, 2, 3, 4))
    frame = Frame("door", np.zeros((4, 4, 3), np.uint8), T0)
    for kind, incident in (("opened", a), ("opened", b), ("closed", b)):
        log.handle(frame, [], [Confirmation(kind, incident)])
    log.handle(frame, [], [Confirmation("updated", replace(a, update=1, confidence=0.9))])
    log.close()
    with open(state / "incidents.jsonl", "a") as fh:
        fh.write('{"kind": "opened", "id": "torn')
    r = make_review(tmp_path)
    try:
        html = r.client.get("/").get_data(as_text=True)
        assert ids_on(html) == ["yard:2:1", "door:1:1"]
        found = r.sink.store.get("door:1:1")
        assert (found.update_no, found.confidence, found.thumb, found.url) == (1, 0.9, "door_1_1-0.jpg", "http://nvr/e/1")
        assert r.sink.store.get("yard:2:1").closed_at == T0 + 9
        assert r.sink.store.import_log(state / "incidents.jsonl") == 0  # once only
    finally:
        r.sink.close()
        r.app.extensions["gunwatch"]["store"].close()


def test_camera_names_from_outside_are_links_and_text_not_markup(review):
    import html

    camera = 'Front door/#2?x=1&y %<b>"'
    incident = sighting(review.sink, snapshots_dir(review), camera, T0)
    listing = review.client.get("/").get_data(as_text=True)
    assert "<b>" not in listing and "Front door/#2?x=1&amp;y %&lt;b&gt;" in listing
    link = html.unescape(re.search(r'<a class="when" href="([^"]+)"', listing).group(1))
    assert review.client.get(link).status_code == 200
    thumb = html.unescape(re.search(r'<img src="([^"]+)"', listing).group(1))
    assert review.client.get(thumb).status_code == 200
    reply = review.client.post("/review", data={"id": incident.id, "state": "false_alarm", "csrf": review.csrf()})
    assert reply.status_code == 303 and review.sink.store.get(incident.id).state == "false_alarm"
    assert len(list((review.config.state_dir / "negatives").glob("*.jpg"))) == 1
