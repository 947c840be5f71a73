"""Frigate as its users run it (issue 29): port 8971 with auth, events without snapshots on 0.14,
several people on a camera, face recognition, offline cameras, Home Assistant discovery, links
per version. Against tests/support/fake_frigate.py (strict like Frigate) and the real Mosquitto."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from gunwatch.config import parse_config
from gunwatch.domain import BBox, Confirmation, Frame, Incident
from gunwatch.model import InputSpec
from gunwatch.integrations.frigate.api import FrigateApi, FrigateAuthError
from gunwatch.integrations.frigate.config import FrigateAuthConfig, FrigateSourceConfig, MqttConfig
from gunwatch.integrations.frigate.source import FrigateSource
from gunwatch.integrations.frigate.write_back import FrigateWriteBack
from gunwatch.sinks.write_back import WriteBackJournal

from ...support.fake_frigate import FakeFrigate, TrackedEvent
from ...support.hostile import encoded
from ...support.wait import wait_for
from ..sources.test_folder import Collected
from .test_frigate import broker  # noqa: F401 (broker is a fixture)

pytestmark = pytest.mark.mqtt

PASSWORD = "correct horse"


def message(kind: str, event_id: str, camera: str = "driveway", box=None, sub_label=None,
            has_snapshot: bool = False) -> str:
    after = {"id": event_id, "camera": camera, "label": "person", "sub_label": sub_label,
             "box": box, "top_score": 0.9, "start_time": time.time(),
             "end_time": time.time() if kind == "end" else None, "has_snapshot": has_snapshot,
             "has_clip": False}
    return json.dumps({"type": kind, "before": after, "after": after})


def login() -> FrigateAuthConfig:
    return FrigateAuthConfig(user="admin", password=PASSWORD)


def source_config(frigate: FakeFrigate, **overrides) -> FrigateSourceConfig:
    values = {"type": "frigate", "url": frigate.url, "fps": 5, "sub_label_retry_s": 1.5,
              "mqtt": MqttConfig(topic_prefix=f"frigate-run-{uuid.uuid4().hex[:8]}"),
              "auth": login() if frigate.auth else None, **overrides}
    return FrigateSourceConfig(**values)


@pytest.fixture
def running(broker):  # noqa: F811
    started = []

    def start(config: FrigateSourceConfig):
        source, collected, stop = FrigateSource(config, InputSpec()), Collected(), threading.Event()
        thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
        thread.start()
        started.append((stop, thread))
        assert wait_for(lambda: source.status.state == "running"), source.status
        return source, collected

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=10)


_open_write_backs: list[FrigateWriteBack] = []


@pytest.fixture(autouse=True)
def close_write_backs():
    """Stop every write-back a test made: its worker thread would otherwise keep retrying a
    Frigate that is gone, and log into a closed stream once pytest has finished."""
    yield
    while _open_write_backs:
        _open_write_backs.pop().close()


def write_back_of(source: FrigateSource, **overrides) -> FrigateWriteBack:
    """The write-back `gunwatch run` builds beside the source (its journal in memory here)."""
    write_back = FrigateWriteBack(source.config.model_copy(update=overrides), source.events, WriteBackJournal(None))
    _open_write_backs.append(write_back)
    return write_back


def gun(camera: str = "driveway", box: BBox = BBox(320, 320, 40, 40), confidence: float = 0.9,
        incident_id: str = "inc1") -> Incident:
    return Incident(id=incident_id, camera=camera, started_at=time.time(), label="gun",
                    confidence=confidence, box=box)


def frame_of(event_id: str, camera: str = "driveway") -> Frame:
    return Frame(camera=camera, image=np.zeros((4, 4, 3), np.uint8), at=time.time(),
                 origin=f"frigate:{camera}:{event_id}", event_id=event_id)


# 1. authentication
@pytest.mark.parametrize("version", ["0.14.1-f4f3cfa", "0.15.2-1ad8ab4", "0.17.2-1e3c2a2"])
def test_frames_through_the_authenticated_port(broker, running, caplog, version):  # noqa: F811
    client, _ = broker
    caplog.set_level(logging.DEBUG)
    with FakeFrigate(version=version, auth=True) as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        source, collected = running(source_config(frigate))
        client.publish(f"{source.config.mqtt.topic_prefix}/events", message("new", "1700000000.1-aaaaaa"), qos=1)
        assert collected.wait_for(2, timeout=20)
        # Frigate restarts with a new JWT secret: every session ends, gunwatch logs in again
        frigate.restart_with_new_secret()
        before = len(collected.frames)
        assert collected.wait_for(before + 2, timeout=20)
        assert frigate.logins == 2
        assert 401 in frigate.answered("/latest.jpg")
    assert PASSWORD not in caplog.text
    assert not any(record.levelno >= logging.WARNING and "401" in record.getMessage()
                   for record in caplog.records), "a re-login is routine, not a failure"


def test_session_renewed_before_it_expires():
    with FakeFrigate(version="0.15.2", auth=True, session_length_s=120) as frigate:
        api = FrigateApi(frigate.url, login(), timeout_s=5)
        assert api.version() == (0, 15)
        api.request("GET", "stats").raise_for_status()
        # sessions of 120 s are inside the renewal margin: each call logs in first, none is refused
        assert frigate.logins == 2 and 401 not in frigate.answered("")


@pytest.mark.parametrize("version, refused", [("0.14.1", 400), ("0.15.2", 401)])
def test_wrong_password_names_the_key(version, refused):
    with FakeFrigate(version=version, auth=True) as frigate:
        api = FrigateApi(frigate.url, FrigateAuthConfig(user="admin", password="wrong"), timeout_s=5)
        with pytest.raises(FrigateAuthError, match="auth.user and the password in auth.password"):
            api.version()
        assert frigate.answered("/api/login") == [refused]


def test_no_auth_on_the_authenticated_port_says_what_to_set():
    with FakeFrigate(auth=True) as frigate:
        with pytest.raises(FrigateAuthError, match="set auth.user and auth.password"):
            FrigateApi(frigate.url, None, timeout_s=5).version()


def test_token_from_the_environment(monkeypatch, tmp_path):
    with FakeFrigate(version="0.16.4", auth=True) as frigate:
        monkeypatch.setenv("FRIGATE_TOKEN", frigate.issue_token("admin"))
        config = parse_config(f"""
state_dir: {tmp_path}
sources:
  - type: frigate
    url: {frigate.url}
    auth: {{token: "${{FRIGATE_TOKEN}}"}}
""")
        source = config.sources[0]
        assert "FRIGATE_TOKEN" not in repr(source) and frigate.issue_token("admin")[:20] not in repr(source)
        assert FrigateApi(source.url, source.auth, timeout_s=5).version() == (0, 16)
        assert frigate.logins == 0
        expired = FrigateApi(source.url, FrigateAuthConfig(token=frigate.issue_token("admin", -10)), timeout_s=5)
        with pytest.raises(FrigateAuthError, match="auth.token is refused"):
            expired.version()


@pytest.mark.parametrize("auth, problem", [
    ({"user": "admin"}, "set user and password"),
    ({"user": "admin", "password": "x", "token": "y"}, "not both"),
])
def test_incomplete_auth_is_refused_by_name(tmp_path, auth, problem):
    from gunwatch.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        parse_config(f"state_dir: {tmp_path}\nsources:\n  - type: frigate\n    auth: {json.dumps(auth)}\n")
    assert "sources.0.frigate.auth" in str(raised.value) and problem in str(raised.value)


# 7. the test server is as strict as Frigate
@pytest.mark.parametrize("version, bad_body", [("0.14.1", 400), ("0.15.2", 422), ("0.17.2", 422)])
def test_the_test_server_refuses_like_frigate(version, bad_body):
    import requests

    with FakeFrigate(version=version, auth=True) as frigate:
        frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway", has_snapshot=True)
        assert requests.get(f"{frigate.url}/api/version", timeout=5).status_code == 401
        token = frigate.issue_token("admin")
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{frigate.url}/api/version", headers=bearer, timeout=5).text == version
        assert requests.get(f"{frigate.url}/api/version", cookies={"frigate_token": token}, timeout=5).ok
        sub = f"{frigate.url}/api/events/1700000000.1-aaaaaa/sub_label"
        assert requests.post(sub, json={"subLabelScore": 0.5}, headers=bearer, timeout=5).status_code == bad_body
        assert requests.post(sub, json={"subLabel": "x" * 101}, headers=bearer, timeout=5).status_code == bad_body
        assert requests.post(sub, json={"subLabel": "gun", "subLabelScore": 0.5}, headers=bearer, timeout=5).ok
        create = f"{frigate.url}/api/events/nowhere/gun/create"
        assert requests.post(create, json={}, headers=bearer, timeout=5).status_code == 404
        assert requests.get(f"{frigate.url}/api/nowhere/latest.jpg", headers=bearer, timeout=5).status_code == 404


# 2. the sub label lands
def test_014_event_without_snapshot_or_clip_gets_a_created_event(running, caplog):
    caplog.set_level(logging.INFO)
    with FakeFrigate(version="0.14.1", auth=True) as frigate:
        frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway")  # neither snapshot nor clip
        source, _ = running(source_config(frigate))
        write_back_of(source).handle(frame_of("1700000000.1-aaaaaa"), [], [Confirmation("opened", gun())])
        assert wait_for(lambda: frigate.created), frigate.answers
        assert set(frigate.answered("/sub_label")) == {404}
        (created,) = frigate.created.values()
        assert (created.camera, created.label, created.sub_label[0]) == ("driveway", "gun", "gunwatch")
        assert "a Frigate event is created instead" in caplog.text


def test_404_retried_until_frigate_writes_the_event(running):
    with FakeFrigate(version="0.15.2") as frigate:
        event = frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway")
        source, _ = running(source_config(frigate, sub_label_retry_s=30))
        write_back_of(source).handle(frame_of("1700000000.1-aaaaaa"), [], [Confirmation("opened", gun())])
        assert wait_for(lambda: 404 in frigate.answered("/sub_label"))
        event.has_snapshot = True  # Frigate saves the snapshot: now the event is in its database
        assert wait_for(lambda: event.sub_label is not None)
        assert event.sub_label == ("gun", 0.9) and not frigate.created


def test_016_finds_an_event_that_is_still_tracked(running):
    with FakeFrigate(version="0.16.4") as frigate:
        event = frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway")
        source, _ = running(source_config(frigate))
        write_back_of(source).handle(frame_of("1700000000.1-aaaaaa"), [], [Confirmation("opened", gun())])
        assert wait_for(lambda: event.sub_label is not None)
        assert frigate.answered("/sub_label") == [200] and not frigate.created


# 6. the right event, max_event_s, face recognition
@pytest.mark.parametrize("gun_box, holder", [(BBox(320, 320, 40, 40), "1700000000.2-bbbbbb"),
                                             (BBox(10, 10, 20, 20), "1700000000.1-aaaaaa")])
def test_sub_label_goes_to_the_person_holding_the_gun(broker, running, gun_box, holder):  # noqa: F811
    client, _ = broker
    with FakeFrigate(version="0.16.4") as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        for event_id in ("1700000000.1-aaaaaa", "1700000000.2-bbbbbb"):
            frigate.tracked[event_id] = TrackedEvent("driveway")
        source, _ = running(source_config(frigate))
        topic = f"{source.config.mqtt.topic_prefix}/events"
        client.publish(topic, message("new", "1700000000.1-aaaaaa", box=[0, 0, 100, 100]), qos=1)
        client.publish(topic, message("new", "1700000000.2-bbbbbb", box=[300, 300, 500, 500]), qos=1)
        assert wait_for(lambda: len(source.events.followed("driveway")) == 2)
        newest = "1700000000.2-bbbbbb"
        write_back_of(source).handle(frame_of(newest), [], [Confirmation("opened", gun(box=gun_box))])
        assert wait_for(lambda: any(e.sub_label for e in frigate.tracked.values()))
        time.sleep(0.5)  # a second, wrong write-back would arrive by now
        assert {i for i, e in frigate.tracked.items() if e.sub_label} == {holder}


def test_max_event_s_stops_analysis_despite_updates(broker, running):  # noqa: F811
    client, _ = broker
    with FakeFrigate() as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        source, _ = running(source_config(frigate, max_event_s=1.0))
        topic = f"{source.config.mqtt.topic_prefix}/events"
        client.publish(topic, message("new", "1700000000.1-aaaaaa"), qos=1)
        assert wait_for(lambda: frigate.fetch_count("driveway") > 0)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # Frigate keeps updating a long event
            client.publish(topic, message("update", "1700000000.1-aaaaaa"), qos=1)
            time.sleep(0.2)
        fetched = frigate.fetch_count("driveway")
        for _ in range(5):
            client.publish(topic, message("update", "1700000000.1-aaaaaa"), qos=1)
            time.sleep(0.2)
        assert frigate.fetch_count("driveway") == fetched


def test_a_sub_label_from_face_recognition_is_left_alone(broker, running, caplog):  # noqa: F811
    client, _ = broker
    caplog.set_level(logging.INFO)
    with FakeFrigate(version="0.16.4") as frigate:
        frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway", sub_label=("Bob", 0.93))
        source, _ = running(source_config(frigate))
        client.publish(f"{source.config.mqtt.topic_prefix}/events",
                       message("new", "1700000000.1-aaaaaa", box=[0, 0, 640, 480], sub_label=["Bob", 0.93]), qos=1)
        assert wait_for(lambda: source.events.followed("driveway"))
        write_back_of(source).handle(frame_of("1700000000.1-aaaaaa"), [], [Confirmation("opened", gun())])
        assert wait_for(lambda: frigate.created)
        assert frigate.tracked["1700000000.1-aaaaaa"].sub_label == ("Bob", 0.93)
        assert not frigate.posted("/sub_label")
        assert "already has the sub label Bob from another source" in caplog.text


# 5. offline cameras
@pytest.mark.parametrize("version, preview", [("0.14.1", False), ("0.17.2", False), ("0.18.0-beta1", True)])
def test_an_offline_camera_is_not_analysed(broker, running, version, preview):  # noqa: F811
    client, _ = broker
    with FakeFrigate(version=version) as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        frigate.offline.add("driveway")
        if preview:
            frigate.previews["driveway"] = encoded(".jpg", 640, 480)
        source, collected = running(source_config(frigate))
        client.publish(f"{source.config.mqtt.topic_prefix}/events", message("new", "1700000000.1-aaaaaa"), qos=1)
        assert wait_for(lambda: source.status.state == "camera offline"), source.status
        assert "driveway" in source.status.last_error
        time.sleep(1.0)
        assert collected.frames == []
        frigate.offline.clear()  # the camera is back
        assert collected.wait_for(1, timeout=30), source.status
        assert source.status.state == "running"


def test_the_error_picture_is_recognised_at_any_size():
    import cv2

    from gunwatch.integrations.frigate.api import is_camera_error_picture

    from ...support.fake_frigate import CAMERA_ERROR_JPG

    picture = cv2.imread(str(CAMERA_ERROR_JPG))
    small = cv2.imdecode(cv2.imencode(".jpg", cv2.resize(picture, (416, 234)),
                                      [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_COLOR)
    assert is_camera_error_picture(picture) and is_camera_error_picture(small)
    night = np.full((480, 640, 3), 6, np.uint8)
    night[200:280, 280:360] = 255  # a lamp in a dark grey IR frame
    assert not is_camera_error_picture(night)
    assert not is_camera_error_picture(np.zeros((480, 640, 3), np.uint8))


# 4. links per version, public_url
@pytest.mark.parametrize("version, has_snapshot, link", [
    ("0.14.1", True, "{base}/api/events/1700000000.1-aaaaaa/snapshot.jpg"),
    ("0.14.1", False, "{base}/review"),
    ("0.15.2", False, "{base}/explore?event_id=1700000000.1-aaaaaa"),
    ("0.17.2", True, "{base}/explore?event_id=1700000000.1-aaaaaa"),
])
def test_links_match_the_frigate_version(version, has_snapshot, link):
    with FakeFrigate(version=version, auth=True) as frigate:
        internal = FrigateApi(frigate.url, login(), timeout_s=5)
        public = FrigateApi(frigate.url, login(), timeout_s=5, public_url="https://frigate.example.org/")
        assert internal.event_link("1700000000.1-aaaaaa", has_snapshot) == link.format(base=frigate.url)
        assert public.event_link("1700000000.1-aaaaaa", has_snapshot) == \
            link.format(base="https://frigate.example.org")


# 3. Home Assistant, through the real broker
def test_home_assistant_discovery_states_and_last_will(broker):  # noqa: F811
    client, received = broker
    camera, prefix = f"cam{uuid.uuid4().hex[:6]}", f"ha-{uuid.uuid4().hex[:6]}"
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    seen: list[tuple[str, str]] = []
    # retained messages are from earlier runs on the shared broker
    watcher.on_message = lambda c, u, m: m.retain or seen.append((m.topic, m.payload.decode()))
    watcher.connect("127.0.0.1", 1883)
    watcher.subscribe([(f"{prefix}/#", 1), (f"gunwatch/{camera}/#", 1), ("gunwatch/+/availability", 1)])
    watcher.loop_start()
    time.sleep(0.3)
    with FakeFrigate() as frigate, FakeFrigate() as other_frigate:
        config = source_config(frigate, cameras=[camera], discovery_prefix=prefix)
        available = f"gunwatch/{config.mqtt.topic_prefix}/availability"
        source = FrigateSource(config, InputSpec())
        source.client.connect("127.0.0.1", 1883)
        source.client.loop_start()
        # A second Frigate on the same broker (its own topic prefix, as Frigate requires).
        other_config = source_config(other_frigate, cameras=[f"{camera}b"], discovery_prefix=prefix)
        other = FrigateSource(other_config, InputSpec())
        other.client.connect("127.0.0.1", 1883)
        other.client.loop_start()
        other_available = f"gunwatch/{other_config.mqtt.topic_prefix}/availability"
        discovery = f"{prefix}/binary_sensor/gunwatch_{camera}/config"
        assert wait_for(lambda: any(t == discovery for t, _ in seen)), seen
        assert wait_for(lambda: (other_available, "online") in seen), seen
        for kind in ("opened", "updated", "closed", "updated", "updated", "closed"):
            write_back_of(source).handle(frame_of("1700000000.1-aaaaaa", camera), [], [Confirmation(kind, gun(camera))])
        state = f"gunwatch/{camera}/gun"
        assert wait_for(lambda: [p for t, p in seen if t == state] == ["ON", "OFF", "ON", "OFF"]), seen
        # gunwatch's first source dies without a goodbye: the broker publishes its last will
        source.client.loop_stop()
        source.client.socket().close()
        assert wait_for(lambda: (available, "offline") in seen), seen
        time.sleep(0.3)
        # ... which says nothing of the other Frigate's cameras
        assert (other_available, "offline") not in seen
        other.client.loop_stop()
        other.client.disconnect()
    watcher.loop_stop()
    watcher.disconnect()
    config = json.loads(next(p for t, p in seen if t == discovery))
    assert config["state_topic"] == state and config["availability_topic"] == available
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
    assert config["unique_id"] == f"gunwatch_{camera}_gun" and config["device"]["identifiers"] == [f"gunwatch_{camera}"]
    availability = [p for t, p in seen if t == available]
    assert availability.index("online") < availability.index("offline")
    assert {t for t, _ in seen if t.startswith(prefix)} == {discovery, f"{prefix}/binary_sensor/gunwatch_{camera}b/config"}


# doctor checks the login
@pytest.mark.parametrize("auth, state, words", [
    (f"{{user: admin, password: '{PASSWORD}'}}", "OK", "logged in as admin, version 0.15"),
    ("{user: admin, password: wrong}", "FAIL", "refused the login of user 'admin'"),
    (None, "FAIL", "answered 401"),
])
def test_doctor_checks_the_frigate_login(tmp_path, auth, state, words):
    from gunwatch.doctor import Doctor
    from gunwatch.integrations.frigate.doctor import check

    with FakeFrigate(version="0.15.2", auth=True) as frigate:
        body = f"state_dir: {tmp_path}\nsources:\n  - type: frigate\n    url: {frigate.url}\n"
        config = tmp_path / "gunwatch.yml"
        config.write_text(body + (f"    auth: {auth}\n" if auth else ""))
        doctor = Doctor(str(config), None)
        check(doctor, "sources.0", parse_config(config.read_text()).sources[0])
    (api, _mqtt) = doctor.results
    assert api.state == state and words in api.detail, api
    assert PASSWORD not in api.detail + (api.fix or "")


def test_the_readme_quick_start_works_against_an_authenticated_frigate(monkeypatch, tmp_path):
    """The YAML under "Frigate admins" in README.md, pointed at the test server: it logs in and
    reads a frame."""
    from ...conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("**Frigate admins:**"):]
    quick_start = section[section.index("```yaml") + len("```yaml"):section.index("```\n", section.index("```yaml"))]
    with FakeFrigate(version="0.14.1", auth=True, users={"gunwatch": "s3cret-pw"}) as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        monkeypatch.setenv("FRIGATE_PASSWORD", "s3cret-pw")
        config = parse_config(f"state_dir: {tmp_path}\n"
                              + quick_start.replace("https://frigate:8971", frigate.url))
        source = config.sources[0]
        api = FrigateApi(source.url, source.auth, timeout_s=5, tls_verify=source.tls_verify)
        assert api.request("GET", "driveway/latest.jpg").content == frigate.pictures["driveway"]
        assert frigate.logins == 1


def doctor_on(tmp_path, frigate: FakeFrigate) -> dict:
    """Every doctor result on a config that holds only `frigate` (as its test user), by check
    name, in order (the Frigate check gives two: its API, then its MQTT broker)."""
    from gunwatch.doctor import Doctor

    (tmp_path / "state").mkdir()
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"""state_dir: {tmp_path / 'state'}
sources:
  - type: frigate
    url: {frigate.url}
    auth: {{user: admin, password: correct horse}}
    mqtt: {{host: 127.0.0.1, port: 1883}}
""")
    results: dict[str, list] = {}
    for r in Doctor(str(config), None).run():
        results.setdefault(r.check, []).append(r)
    return results


def test_doctor_reads_frigates_clock(tmp_path):
    """Frigate's Date header feeds doctor's clock check (an hour's skew puts event times and
    Frigate's own timeline an hour apart)."""
    with FakeFrigate(version="0.15.2", auth=True, clock_skew_s=3600) as frigate:
        results = doctor_on(tmp_path, frigate)
    assert [r.state for r in results["sources.0 (frigate)"]] == ["OK", "OK"], results["sources.0 (frigate)"]
    clock = results["clock"][0]
    assert clock.state == "FAIL" and "behind frigate's" in clock.detail, clock


# 8. a Frigate that is down loses no write-back, across a restart of gunwatch
def test_a_sub_label_waits_out_frigate_down_and_a_gunwatch_restart(tmp_path):
    from gunwatch.integrations.frigate.events import FollowedEvents

    with FakeFrigate(version="0.16.4") as gone:
        port = gone.port
    config = FrigateSourceConfig(type="frigate", url=f"http://127.0.0.1:{port}", timeout_s=1.0)
    journal_file = tmp_path / "write-back.sqlite"
    write_back = FrigateWriteBack(config, FollowedEvents(), WriteBackJournal(journal_file))
    write_back.handle(frame_of("1700000000.1-aaaaaa"), [], [Confirmation("opened", gun())])
    # Frigate does not answer: the write stays filed and is tried again...
    assert wait_for(lambda: [j.attempts for j in write_back.journal.pending()] == [2], 20), \
        write_back.journal.pending()
    write_back.close()  # ...until gunwatch stops with it still owed.
    assert [j.key for j in WriteBackJournal(journal_file).pending()] == ["sub_label:1700000000.1-aaaaaa"]

    with FakeFrigate(version="0.16.4", port=port) as frigate:
        event = frigate.tracked["1700000000.1-aaaaaa"] = TrackedEvent("driveway")
        restarted = FrigateWriteBack(config, FollowedEvents(), WriteBackJournal(journal_file))
        try:
            assert wait_for(lambda: event.sub_label is not None, 20), frigate.answers
            assert event.sub_label == ("gun", 0.9) and frigate.answered("/sub_label") == [200]
            assert wait_for(lambda: not restarted.journal.pending(), 5)
        finally:
            restarted.close()
