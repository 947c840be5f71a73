"""The Frigate adapter through the real Mosquitto broker and a local server that answers
Frigate 0.14's HTTP API: events followed, frames analysed, sub label and state written back."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import paho.mqtt.client as mqtt
import pytest

from gunwatch.app import App
from gunwatch.config import parse_config

from ...conftest import need
from ...support.fake_frigate import FakeFrigate, TrackedEvent
from ...support.wait import wait_for

pytestmark = pytest.mark.mqtt


def broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def broker():
    need(broker_up(), "no MQTT broker at 127.0.0.1:1883 (Mosquitto)")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    received: list[tuple[str, str, bool]] = []
    client.on_message = lambda c, u, m: received.append((m.topic, m.payload.decode(), m.retain))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    yield client, received
    client.loop_stop()
    client.disconnect()


def event(kind: str, event_id: str, camera: str, label: str = "person") -> str:
    after = {"id": event_id, "camera": camera, "label": label, "sub_label": None, "top_score": 0.9,
             "false_positive": False, "start_time": time.time(), "end_time": time.time() if kind == "end" else None,
             "has_snapshot": True, "current_zones": []}
    return json.dumps({"type": kind, "before": after, "after": after})


def test_frigate_event_analysed_and_written_back(broker, coco_tiny_cfg, sample_photos, tmp_path):
    client, received = broker
    prefix = f"frigate-test-{uuid.uuid4().hex[:8]}"  # a topic of our own on the shared broker
    photos = {p.name: p.read_bytes() for p in sample_photos}
    with FakeFrigate() as frigate:
        frigate.pictures["driveway"] = photos["person.jpg"]
        frigate.pictures["garden"] = photos["person.jpg"]
        config = parse_config(f"""
state_dir: {tmp_path}
metrics: {{port: 0}}
detector: {{backend: opencv, model: {coco_tiny_cfg}, confidence: 0.3}}
sources:
  - type: frigate
    url: {frigate.url}
    mqtt: {{topic_prefix: {prefix}}}
    cameras: [driveway]
    fps: 4
    create_event: true
defaults:
  labels: [person]
  confirm: {{hits: 3, window: 5, lost_after_s: 2}}
""")
        app = App(config)
        client.subscribe("gunwatch/driveway/#")
        runner = threading.Thread(target=app.run, kwargs={"duration": 40}, daemon=True)
        runner.start()
        source = app.sources[0]
        assert wait_for(lambda: source.status.state == "running"), source.status
        frigate.tracked["ev1"] = TrackedEvent("driveway", has_snapshot=True)
        client.publish(f"{prefix}/events", event("new", "ev1", "driveway"), qos=1)
        client.publish(f"{prefix}/events", event("new", "ev2", "garden"), qos=1)   # camera not followed
        client.publish(f"{prefix}/events", event("new", "ev3", "driveway", "car"), qos=1)  # label not followed
        client.publish(f"{prefix}/events", "not json", qos=1)
        assert wait_for(lambda: frigate.posted("/events/ev1/sub_label")), frigate.posts
        sub = frigate.posted("/events/ev1/sub_label")[0]
        assert sub["subLabel"] == "person" and 0.3 <= sub["subLabelScore"] <= 1
        # the sink posts the sub label first and the gun event right after, so wait for it too
        assert wait_for(lambda: frigate.posted("/events/driveway/person/create")), frigate.posts
        created = frigate.posted("/events/driveway/person/create")
        assert len(created) == 1 and created[0]["include_recording"] is True
        assert wait_for(lambda: ("gunwatch/driveway/gun", "ON", False) in received
                    or ("gunwatch/driveway/gun", "ON", True) in received)
        assert frigate.fetch_count("garden") == 0
        # the event ends: gunwatch stops fetching, the incident closes, HA sees OFF
        client.publish(f"{prefix}/events", event("end", "ev1", "driveway"), qos=1)
        time.sleep(1.0)
        fetched = frigate.fetch_count("driveway")
        time.sleep(1.5)
        assert frigate.fetch_count("driveway") == fetched
        app.request_stop()
        runner.join(timeout=20)
    incidents = [json.loads(x) for x in (tmp_path / "incidents.jsonl").read_text().splitlines()]
    assert incidents[0]["kind"] == "opened" and incidents[0]["event_id"] == "ev1"
    # Frigate 0.14 has no Explore page: the link is the event's snapshot
    assert incidents[0]["url"] == f"{frigate.url}/api/events/ev1/snapshot.jpg"


def test_broker_down_is_reported_and_other_sources_keep_working(coco_tiny_cfg, sample_photos, tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    config = parse_config(f"""
state_dir: {tmp_path}
metrics: {{port: 0}}
detector: {{backend: opencv, model: {coco_tiny_cfg}, confidence: 0.3}}
sources:
  - type: frigate
    url: http://127.0.0.1:9
    mqtt: {{port: 9}}
  - type: folder
    paths: [{watched}]
    camera: door
    settle_s: 0.1
defaults:
  labels: [person]
  confirm: {{single_frame_confidence: 0.8}}
""")
    app = App(config)
    runner = threading.Thread(target=app.run, kwargs={"duration": 30}, daemon=True)
    runner.start()
    frigate, folder = app.sources
    assert wait_for(lambda: folder.status.state == "running")
    (watched / "person.jpg").write_bytes(next(p for p in sample_photos if p.name == "person.jpg").read_bytes())
    log = tmp_path / "incidents.jsonl"
    assert wait_for(lambda: log.exists() and log.read_text().strip())
    assert frigate.status.state in ("retrying", "starting") and frigate.status.state != "running"
    try:  # the admin's monitoring sees which source is down
        urllib.request.urlopen(f"http://127.0.0.1:{app.metrics.port}/healthz", timeout=5)
        raise AssertionError("/healthz answered 200 with a source down")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503 and "frigate:http://127.0.0.1:9" in exc.read().decode()
    app.request_stop()
    runner.join(timeout=20)
