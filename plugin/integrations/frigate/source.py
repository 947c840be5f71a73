"""Frigate: follow its tracked-object events over MQTT, analyse the camera's frames through its
HTTP API while an event lasts, and write the verdict back into Frigate.

Follows Frigate 0.14's documented interfaces (https://docs.frigate.video/0.14/integrations/mqtt
and /integrations/api): MQTT `<prefix>/events` messages {"type": "new"|"update"|"end",
"before": {...}, "after": {"id", "camera", "label", "box", "sub_label", ...}};
`GET /api/<camera>/latest.jpg` for the camera's current frame; the same endpoints exist up to
0.18. The HTTP side (session, version, links, offline pictures) is in api.py, the config in
config.py, the write-back in write_back.py, Home Assistant in home_assistant.py, the doctor's
checks in doctor.py.

Whoever may publish on the broker can send anything as an event, so a message is checked
against the shape Frigate produces before any of it is used (parse_event): an event id as
Frigate makes them (`<frame time>-<random letters>`), a camera name as Frigate's config allows
(`^[a-zA-Z0-9_-]+$`, REGEX_CAMERA_NAME in frigate/const.py), bounded sizes and nesting. Ids
and camera names are still escaped where they go into a URL or an MQTT topic.

Frigate already finds the person; gunwatch looks at the frames of that person's event, several
per second, so confirmation works over frames as on a live stream. The whole frame is analysed,
not Frigate's crop: a gun is often held away from the body box.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Annotated, Literal

import paho.mqtt.client as mqtt
import requests
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ...decode import ImageRefused, decode_for_detection
from ...domain import Frame
from ...model import InputSpec
from ...registry import register
from ...untrusted import log_field, masked_url, url_segment
from ...sources.base import FrameSink, SourceStatus
from .api import FrigateApi, is_camera_error_picture
from .config import FrigateSourceConfig
from .doctor import check
from .home_assistant import HomeAssistant
from .events import FollowedEvent, FollowedEvents

log = logging.getLogger(__name__)


# A Frigate event message is a few kB; these bounds are far above what Frigate sends.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_NESTING = 32
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
CameraName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
LabelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_ -]{1,64}$")]


class FrigateObject(BaseModel):
    """The part of a tracked object gunwatch uses (`after` of an events message)."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    id: EventId
    camera: CameraName
    label: LabelName
    end_time: float | None = None
    box: Annotated[list[float], Field(min_length=4, max_length=4)] | None = None  # x1, y1, x2, y2
    # 0.14 sends [label, score] (frigate/object_processing.py), older versions a plain string
    sub_label: Annotated[str, Field(max_length=100)] | Annotated[list[str | float | None], Field(max_length=2)] | None = None
    has_snapshot: bool = False
    has_clip: bool = False

    @property
    def sub_label_name(self) -> str | None:
        name = self.sub_label[0] if isinstance(self.sub_label, list) and self.sub_label else self.sub_label
        return name if isinstance(name, str) and name else None


class FrigateEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    type: Literal["new", "update", "end"]
    after: FrigateObject


def _nesting(value: object, limit: int) -> bool:
    """True when `value` nests no deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True


def parse_event(payload: bytes) -> FrigateEvent:
    """A `<prefix>/events` message, checked; ValueError names what is wrong with it."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{len(payload)} bytes, more than the {MAX_MESSAGE_BYTES} an event has")
    try:
        data = json.loads(payload)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise ValueError(f"not JSON ({exc})") from None
    if not _nesting(data, MAX_NESTING):
        raise ValueError(f"JSON nested deeper than {MAX_NESTING} levels")
    try:
        return FrigateEvent.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"{where}: {first['msg']} ({exc.error_count()} problems)") from None



# Frigate's /api/stats is one call for every camera; while events run it is asked this often.
STATS_EVERY_S = 10.0
# Events stopped by max_event_s, remembered so that their later updates do not restart them.
MAX_EXPIRED_REMEMBERED = 10_000


@register("source", "frigate")
class FrigateSource:
    delivery = "latest"
    Config = FrigateSourceConfig
    doctor_check = staticmethod(check)

    def __init__(self, config: FrigateSourceConfig, spec: InputSpec):
        self.config, self.spec = config, spec
        self.name = f"frigate:{masked_url(config.url)}"
        self.status = SourceStatus(self.name)
        self.api = FrigateApi(config.url, config.auth, config.timeout_s,
                              tls_verify=config.ca_file or config.tls_verify, public_url=config.public_url)
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._offline: dict[str, str] = {}   # camera -> why Frigate has no picture of it
        self._no_stream: set[str] = set()    # cameras /api/stats shows without frames
        self._stats_at = float("-inf")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gunwatch-{id(self)}")
        if config.mqtt.username:
            self.client.username_pw_set(config.mqtt.username,
                                        config.mqtt.password.get_secret_value() if config.mqtt.password else None)
        self.client.reconnect_delay_set(1, 60)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.home_assistant = (HomeAssistant(self.client, config.discovery_prefix, config.cameras,
                                             config.mqtt.topic_prefix)
                               if config.publish_state else None)
        # Shared with the write-back.
        self.events = FollowedEvents(self.home_assistant)
        self._events, self._lock = self.events.by_id, self.events.lock

    # MQTT side: which events are live
    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            self.status.failed(f"MQTT refused: {reason}")
            log.warning("source=%s MQTT broker refused the connection: %s", self.name, reason)
            return
        client.subscribe(f"{self.config.mqtt.topic_prefix}/events", qos=1)
        if self.home_assistant:
            self.home_assistant.connected()
        self.status.state = "running"
        log.info("source=%s subscribed to %s/events", self.name, self.config.mqtt.topic_prefix)

    def _on_disconnect(self, client, userdata, flags, reason, properties=None) -> None:
        self.status.failed(f"MQTT disconnected: {reason}")
        log.warning("source=%s MQTT connection lost (%s); paho reconnects with backoff", self.name, reason)

    def _on_message(self, client, userdata, message) -> None:
        # paho's network thread calls this: an exception here would end the MQTT loop, and
        # with it every event of this Frigate.
        try:
            self._take_event(message.payload)
        except Exception:
            self.status.errors += 1
            log.exception("source=%s failed on a frigate/events message; the next one is read",
                          self.name)

    def _take_event(self, payload: bytes) -> None:
        try:
            event = parse_event(payload)
        except ValueError as exc:
            self.status.errors += 1
            log.warning("source=%s ignored a malformed frigate/events message: %s", self.name,
                        log_field(exc))
            return
        after = event.after
        event_id, camera, label = after.id, after.camera, after.label
        if label not in self.config.labels or (self.config.cameras and camera not in self.config.cameras):
            return
        with self._lock:
            if event.type == "end" or after.end_time:
                self._events.pop(event_id, None)
                self._expired.pop(event_id, None)
                return
            if event_id in self._expired:
                return
            known = self._events.get(event_id)
            self._events[event_id] = FollowedEvent(
                camera, known.since if known else time.monotonic(), after.box, after.sub_label_name,
                after.has_snapshot, after.has_clip)
        if not known:
            log.info("source=%s following event=%s camera=%s label=%s", self.name, event_id,
                     camera, log_field(label))
            if self.home_assistant:
                self.home_assistant.announce(camera)

    # HTTP side: frames of the cameras with a live event
    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, keepalive=30)
        self.client.loop_start()
        period = 1.0 / self.config.fps
        try:
            while not stop.is_set():
                started = time.monotonic()
                cameras = self._cameras_to_poll()
                if cameras:
                    self._check_stats()
                for camera, event_id in cameras:
                    try:
                        self._fetch(camera, event_id, sink)
                    except Exception:  # one bad frame must not end the source
                        self.status.errors += 1
                        log.exception("source=%s camera=%s frame of event=%s failed", self.name,
                                      camera, event_id)
                stop.wait(max(0.02, period - (time.monotonic() - started)))
        finally:
            if self.home_assistant and self.client.is_connected():
                self.home_assistant.leaving()
            self.client.loop_stop()
            self.client.disconnect()
            self.status.state = "stopped"

    def _cameras_to_poll(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        with self._lock:
            for event_id, event in list(self._events.items()):
                if now - event.since > self.config.max_event_s:
                    log.info("source=%s event=%s analysed for %.0f s (max_event_s): stopping",
                             self.name, event_id, now - event.since)
                    del self._events[event_id]
                    self._expired[event_id] = None
                    while len(self._expired) > MAX_EXPIRED_REMEMBERED:
                        self._expired.popitem(last=False)
            newest: dict[str, str] = {}
            for event_id, event in self._events.items():
                newest[event.camera] = event_id  # several events on a camera share its frames
            return list(newest.items())

    def _check_stats(self) -> None:
        """Which cameras Frigate receives no frames from; asked at most every STATS_EVERY_S."""
        if time.monotonic() - self._stats_at < STATS_EVERY_S:
            return
        self._stats_at = time.monotonic()
        try:
            fps = self.api.camera_fps()
        except (requests.RequestException, ValueError) as exc:
            log.debug("source=%s /api/stats unusable: %s", self.name, masked_url(str(exc)))
            return
        self._no_stream = {camera for camera, rate in fps.items() if rate <= 0}

    def _mark_offline(self, camera: str, why: str) -> None:
        if camera not in self._offline:
            log.warning("source=%s camera=%s offline in Frigate (%s): not analysed until it is back",
                        self.name, camera, why)
        self._offline[camera] = why
        self.status.state, self.status.last_error = "camera offline", f"camera {camera}: {why}"

    def _fetch(self, camera: str, event_id: str, sink: FrameSink) -> None:
        if camera in self._no_stream:
            return self._mark_offline(camera, "/api/stats shows camera_fps 0")
        try:
            response = self.api.request("GET", f"{url_segment(camera)}/latest.jpg", params={"quality": 95})
            response.raise_for_status()
        except requests.RequestException as exc:
            self.status.failed(f"HTTP: {masked_url(str(exc))}")
            log.warning("source=%s cannot fetch %s/latest.jpg: %s", self.name, camera, masked_url(str(exc)))
            return
        if response.headers.get("X-Frigate-Offline", "").lower() == "true":
            # 0.18 answers an offline camera with its last preview frame (frigate/api/media.py)
            return self._mark_offline(camera, "X-Frigate-Offline: its last preview frame")
        try:
            image, sx, sy = decode_for_detection(response.content, self.spec, self.config.max_pixels)
        except ImageRefused as exc:
            image, why = None, str(exc)
        else:
            why = "not a readable image"
        if image is None:
            self.status.errors += 1
            log.warning("source=%s camera=%s latest.jpg skipped: %s", self.name, camera, why)
            return
        if is_camera_error_picture(image):
            return self._mark_offline(camera, "latest.jpg is Frigate's camera-error picture")
        if self._offline.pop(camera, None):
            log.info("source=%s camera=%s is back online", self.name, camera)
        captured = time.time()
        self.status.frame(captured)
        followed = self.events.followed_event(event_id)
        sink(Frame(camera=camera, image=image, at=captured, origin=f"frigate:{camera}:{event_id}",
                   scale=(sx, sy), event_id=event_id,
                   url=self.api.event_link(event_id, has_snapshot=bool(followed and followed.has_snapshot))))
