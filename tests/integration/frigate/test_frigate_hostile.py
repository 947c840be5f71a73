"""A hostile publisher on Frigate's broker: malformed events never stop the source, ids never
leave their URL segment, camera names never change a topic, credentials never show."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import numpy as np
import pytest

from gunwatch.domain import BBox, Confirmation, Frame, Incident
from gunwatch.model import InputSpec
from gunwatch.integrations.frigate.config import FrigateSourceConfig, MqttConfig
from gunwatch.integrations.frigate.source import FrigateSource

from ...support.fake_frigate import FakeFrigate
from ...support.hostile import encoded, json_deep
from ...support.wait import wait_for
from ..sources.test_folder import Collected
from .test_frigate import broker, event  # noqa: F401 (broker is a fixture)
from .test_frigate_as_run import close_write_backs, write_back_of  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.mqtt


def hostile_messages() -> list[bytes]:
    good = json.loads(event("new", "1700000000.1-aaaaaa", "driveway"))
    out = []
    for field, value in (("id", ["a", "b"]), ("id", {"x": 1}), ("camera", {"n": 1}), ("camera", 12),
                         ("id", "x/../../restart?"), ("id", "../../etc/passwd"), ("camera", "../../etc"),
                         ("camera", "front\n2026 INFO forged")):
        out.append(json.dumps({**good, "after": {**good["after"], field: value}}).encode())
    return out + [json_deep(100_000), b"\xe9\x00\xff", b"[" * 50]


@pytest.fixture
def running_source(broker):  # noqa: F811
    sources = []

    def start(frigate: FakeFrigate, url: str | None = None):
        prefix = f"frigate-hostile-{uuid.uuid4().hex[:8]}"
        config = FrigateSourceConfig(type="frigate", url=url or frigate.url,
                                     mqtt=MqttConfig(topic_prefix=prefix), fps=5)
        source, collected, stop = FrigateSource(config, InputSpec()), Collected(), threading.Event()
        thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
        thread.start()
        sources.append((stop, thread))
        assert wait_for(lambda: source.status.state == "running"), source.status
        return source, collected, prefix

    yield start
    for stop, thread in sources:
        stop.set()
        thread.join(timeout=10)


def test_malformed_events_never_stop_the_source(broker, running_source):  # noqa: F811
    client, _ = broker
    with FakeFrigate() as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        source, collected, prefix = running_source(frigate)
        for payload in hostile_messages():
            client.publish(f"{prefix}/events", payload, qos=1)
        client.publish(f"{prefix}/events", event("new", "1700000000.2-bbbbbb", "driveway"), qos=1)
        frames = collected.wait_for(2, timeout=20)
        assert frames and {f.event_id for f in frames} == {"1700000000.2-bbbbbb"}
        assert source.status.errors >= len(hostile_messages())
        assert source.client._thread is not None and source.client._thread.is_alive()
        with frigate.lock:
            fetched = [p for p, _ in frigate.posts] + list(frigate.fetches)
        assert fetched == ["driveway"]


def test_a_frame_frigate_refuses_to_give_is_skipped(broker, running_source):  # noqa: F811
    client, _ = broker
    with FakeFrigate() as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 4000, 2)  # a degenerate "frame"
        frigate.pictures["garden"] = encoded(".jpg", 640, 480)
        source, collected, prefix = running_source(frigate)
        client.publish(f"{prefix}/events", event("new", "1700000000.3-cccccc", "driveway"), qos=1)
        client.publish(f"{prefix}/events", event("new", "1700000000.4-dddddd", "garden"), qos=1)
        frames = collected.wait_for(1, timeout=20)
        assert frames and all(f.camera == "garden" for f in frames)
        assert wait_for(lambda: frigate.fetch_count("driveway") >= 2)  # the source is still polling


def test_write_back_escapes_ids_and_topics(broker, running_source):  # noqa: F811
    client, received = broker
    with FakeFrigate() as frigate:
        source, _, _ = running_source(frigate)
        client.subscribe("gunwatch/#")
        time.sleep(0.3)
        hostile_id = "x/../../restart?"
        incident = Incident(id="i1", camera="front+door/#", started_at=time.time(), label="gun",
                            confidence=0.9, box=BBox(1, 1, 5, 5))
        frame = Frame(camera="front+door/#", image=np.zeros((4, 4, 3), np.uint8), at=time.time(),
                      origin=f"frigate:x:{hostile_id}", event_id=hostile_id)
        write_back_of(source, create_event=True).handle(frame, [], [Confirmation("opened", incident)])
        assert wait_for(lambda: len(frigate.posts) == 2)
        paths = [p for p, _ in frigate.posts]
        assert paths == ["/api/events/x%2F..%2F..%2Frestart%3F/sub_label",
                         "/api/events/front%2Bdoor%2F%23/gun/create"]
        assert wait_for(lambda: any(t.startswith("gunwatch/front_door__/") for t, _, _ in received))
        # retained copies from earlier runs on the shared broker show the same topic
        assert {t for t, _, _ in received if t.startswith("gunwatch/front")} == {"gunwatch/front_door__/gun"}


def test_frigate_url_credentials_are_masked(broker, running_source, caplog):  # noqa: F811
    client, _ = broker
    caplog.set_level(logging.INFO)
    with FakeFrigate() as frigate:
        frigate.pictures["driveway"] = encoded(".jpg", 640, 480)
        url = frigate.url.replace("http://", "http://viewer:Sup3rS3cret@")
        source, collected, prefix = running_source(frigate, url)
        client.publish(f"{prefix}/events", event("new", "1700000000.5-eeeeee", "driveway"), qos=1)
        frames = collected.wait_for(1, timeout=20)
        assert frames
        assert "Sup3rS3cret" not in source.name and "viewer:***@" in source.name
        assert "Sup3rS3cret" not in (frames[0].url or "")
        assert "Sup3rS3cret" not in caplog.text
