"""Home Assistant's view of gunwatch: one binary sensor per camera, found by MQTT discovery.

A plain retained state topic has two faults: Home Assistant only sees it once someone writes
a YAML entity for it, and a retained ON outlives a crashed gunwatch. So each camera is announced
on `<discovery_prefix>/binary_sensor/gunwatch_<camera>/config` (retained; format:
https://www.home-assistant.io/integrations/binary_sensor.mqtt/ and /integrations/mqtt/#mqtt-discovery)
with an availability topic; the broker publishes its "offline" as gunwatch's last will when the
connection drops without a goodbye, and Home Assistant then shows the sensor unavailable
instead of a stale ON.
"""

from __future__ import annotations

import json
import logging
import threading

import paho.mqtt.client as mqtt

from ...untrusted import topic_level

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"


def availability_topic(frigate_topic_prefix: str) -> str:
    """One per Frigate source: each source has its own MQTT connection and last will, so one
    source's broker dropping must not mark another Frigate's cameras unavailable. Frigate's
    own `mqtt.topic_prefix` must differ between Frigates on one broker, so it tells them apart."""
    return f"gunwatch/{topic_level(frigate_topic_prefix)}/availability"


def state_topic(camera: str) -> str:
    return f"gunwatch/{topic_level(camera)}/gun"


def discovery_topic(prefix: str, camera: str) -> str:
    return f"{prefix}/binary_sensor/gunwatch_{topic_level(camera)}/config"


def discovery_config(camera: str, availability: str) -> dict:
    node = f"gunwatch_{topic_level(camera)}"
    return {
        "name": "Gun",
        "unique_id": f"{node}_gun",
        "object_id": f"{node}_gun",
        "device_class": "safety",  # ON means unsafe
        "state_topic": state_topic(camera),
        "payload_on": "ON",
        "payload_off": "OFF",
        "availability_topic": availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {"identifiers": [node], "name": f"gunwatch {camera}", "manufacturer": "gunwatch",
                   "model": "gun detection for Frigate"},
    }


class HomeAssistant:
    """Discovery, availability and the gun state of each camera, on the Frigate source's client."""

    def __init__(self, client: mqtt.Client, discovery_prefix: str, cameras: list[str],
                 frigate_topic_prefix: str):
        self.client, self.prefix = client, discovery_prefix
        self.availability = availability_topic(frigate_topic_prefix)
        self._announced: set[str] = set()
        self._cameras = set(cameras)
        self._state: dict[str, bool] = {}
        self._lock = threading.Lock()
        # Must be set before connecting: the broker keeps the will from the CONNECT packet.
        client.will_set(self.availability, OFFLINE, qos=1, retain=True)

    def connected(self) -> None:
        """On every (re)connect: a broker restarted without persistence has lost the retained
        messages, so availability and every camera's discovery are published again."""
        self.client.publish(self.availability, ONLINE, qos=1, retain=True)
        with self._lock:
            self._announced.clear()
            cameras = sorted(self._cameras)
        for camera in cameras:
            self.announce(camera)

    def announce(self, camera: str) -> None:
        with self._lock:
            if camera in self._announced:
                return
            self._announced.add(camera)
            self._cameras.add(camera)
        self.client.publish(discovery_topic(self.prefix, camera),
                            json.dumps(discovery_config(camera, self.availability)), qos=1, retain=True)
        log.info("home assistant: announced binary_sensor gunwatch_%s_gun on %s", topic_level(camera),
                 discovery_topic(self.prefix, camera))

    def gun(self, camera: str, present: bool) -> None:
        """ON when an incident opens or reopens (a reopen within the cooldown arrives as an
        update), OFF when it closes; only changes are published."""
        self.announce(camera)
        with self._lock:
            if self._state.get(camera) == present:
                return
            self._state[camera] = present
        self.client.publish(state_topic(camera), "ON" if present else "OFF", qos=1, retain=True)

    def leaving(self) -> None:
        """A clean stop sends no last will, so say offline ourselves."""
        self.client.publish(self.availability, OFFLINE, qos=1, retain=True).wait_for_publish(2)
