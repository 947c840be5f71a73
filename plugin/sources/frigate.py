"""Frigate: follow its tracked-object events over MQTT, analyse the camera's frames through its
HTTP API while an event lasts, and write the verdict back into Frigate.

Follows Frigate 0.14's documented interfaces (https://docs.frigate.video/0.14/integrations/mqtt
and /integrations/api): MQTT `<prefix>/events` messages {"type": "new"|"update"|"end",
"before": {...}, "after": {"id", "camera", "label", ...}}; `GET /api/<camera>/latest.jpg` for the
camera's current frame; `POST /api/events/<id>/sub_label` {"subLabel", "subLabelScore"};
`POST /api/events/<camera>/<label>/create` {"sub_label", "score", "duration",
"include_recording"}. The same endpoints exist in 0.15 to 0.17.

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
from typing import Annotated, Literal

import paho.mqtt.client as mqtt
import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from ..decode import DEFAULT_MAX_PIXELS, ImageRefused, decode_for_detection
from ..domain import Confirmation, Detection, Frame
from ..model import InputSpec
from ..registry import register
from ..schema import GunwatchModel
from ..untrusted import log_field, masked_url, topic_level, url_segment
from .base import FrameSink, SourceStatus

log = logging.getLogger(__name__)


class MqttConfig(GunwatchModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = Field("frigate", description="Frigate's mqtt.topic_prefix")


class FrigateSourceConfig(GunwatchModel):
    type: Literal["frigate"]
    url: str = Field("http://127.0.0.1:5000", description="Frigate's HTTP API (port 5000, no auth)")
    mqtt: MqttConfig = MqttConfig()
    cameras: list[str] = Field([], description="Frigate cameras to follow (empty: all)")
    labels: list[str] = Field(["person"], description="Frigate labels whose events are analysed")
    fps: float = Field(2.0, gt=0, le=10, description="frames per second fetched per camera during an event")
    max_event_s: float = Field(120.0, gt=0, description="stop analysing an event after this long")
    sub_label: bool = Field(True, description="write `gun` as the event's sub label when confirmed")
    create_event: bool = Field(False, description="also create a separate Frigate event labelled gun")
    publish_state: bool = Field(True, description="publish gunwatch/<camera>/gun ON/OFF (retained) "
                                "for Home Assistant")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="largest frame decoded, in "
                            "pixels (checked from the JPEG header before decoding)")


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


@register("source", "frigate")
class FrigateSource:
    delivery = "latest"
    Config = FrigateSourceConfig

    def __init__(self, config: FrigateSourceConfig, spec: InputSpec):
        self.config, self.spec = config, spec
        self.name = f"frigate:{masked_url(config.url)}"
        self.status = SourceStatus(self.name)
        self.api = config.url.rstrip("/") + "/api"
        self.http = requests.Session()
        self._active: dict[str, tuple[str, float]] = {}  # event id -> (camera, started at)
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gunwatch-{id(self)}")
        if config.mqtt.username:
            self.client.username_pw_set(config.mqtt.username,
                                        config.mqtt.password.get_secret_value() if config.mqtt.password else None)
        self.client.reconnect_delay_set(1, 60)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.write_back = FrigateWriteBack(self)

    # MQTT side: which events are live
    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            self.status.failed(f"MQTT refused: {reason}")
            log.warning("source=%s MQTT broker refused the connection: %s", self.name, reason)
            return
        client.subscribe(f"{self.config.mqtt.topic_prefix}/events", qos=1)
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
                self._active.pop(event_id, None)
            elif event_id not in self._active:
                self._active[event_id] = (camera, time.monotonic())
                log.info("source=%s following event=%s camera=%s label=%s", self.name, event_id,
                         camera, log_field(label))

    # HTTP side: frames of the cameras with a live event
    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, keepalive=30)
        self.client.loop_start()
        period = 1.0 / self.config.fps
        try:
            while not stop.is_set():
                started = time.monotonic()
                for camera, event_id in self._cameras_to_poll():
                    try:
                        self._fetch(camera, event_id, sink)
                    except Exception:  # one bad frame must not end the source
                        self.status.errors += 1
                        log.exception("source=%s camera=%s frame of event=%s failed", self.name,
                                      camera, event_id)
                stop.wait(max(0.02, period - (time.monotonic() - started)))
        finally:
            self.client.loop_stop()
            self.client.disconnect()
            self.status.state = "stopped"

    def _cameras_to_poll(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        with self._lock:
            for event_id, (camera, since) in list(self._active.items()):
                if now - since > self.config.max_event_s:
                    log.info("source=%s event=%s analysed for %.0f s: stopping", self.name, event_id, now - since)
                    del self._active[event_id]
            newest: dict[str, str] = {}
            for event_id, (camera, _) in self._active.items():
                newest[camera] = event_id  # several events on a camera share its frames
            return list(newest.items())

    def _fetch(self, camera: str, event_id: str, sink: FrameSink) -> None:
        try:
            response = self.http.get(f"{self.api}/{url_segment(camera)}/latest.jpg", params={"quality": 95},
                                     timeout=self.config.timeout_s)
            response.raise_for_status()
        except requests.RequestException as exc:
            self.status.failed(f"HTTP: {masked_url(str(exc))}")
            log.warning("source=%s cannot fetch %s/latest.jpg: %s", self.name, camera, masked_url(str(exc)))
            return
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
        captured = time.time()
        self.status.frame(captured)
        sink(Frame(camera=camera, image=image, at=captured, origin=f"frigate:{camera}:{event_id}",
                   scale=(sx, sy), event_id=event_id,
                   url=f"{masked_url(self.config.url).rstrip('/')}/explore?event_id={url_segment(event_id)}"))


class FrigateWriteBack:
    """The sink half of the Frigate adapter: sub label, optional gun event, HA state topic."""

    name = "frigate_write_back"

    def __init__(self, source: FrigateSource):
        self.source = source
        self._created: set[str] = set()

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        if not frame.origin.startswith("frigate:"):
            return
        config, api = self.source.config, self.source.api
        for c in confirmations:
            incident = c.incident
            if c.kind in ("opened", "updated") and config.sub_label and frame.event_id:
                self._post(f"{api}/events/{url_segment(frame.event_id)}/sub_label",
                           {"subLabel": incident.label, "subLabelScore": round(incident.confidence, 3)})
            if c.kind == "opened" and config.create_event and incident.id not in self._created:
                self._created.add(incident.id)
                self._post(f"{api}/events/{url_segment(incident.camera)}/{url_segment(incident.label)}/create",
                           {"sub_label": "gunwatch", "score": round(incident.confidence, 3),
                            "duration": 30, "include_recording": True})
            if config.publish_state and c.kind in ("opened", "closed"):
                self.source.client.publish(f"gunwatch/{topic_level(incident.camera)}/{topic_level(incident.label)}",
                                           "ON" if c.kind == "opened" else "OFF", qos=1, retain=True)

    def _post(self, url: str, body: dict) -> None:
        try:
            response = self.source.http.post(url, json=body, timeout=self.source.config.timeout_s)
            if response.status_code >= 400:
                log.error("frigate write-back %s answered %s: %s", masked_url(url), response.status_code,
                          log_field(response.text[:200]))
        except requests.RequestException as exc:
            log.error("frigate write-back %s failed: %s (the incident is still in the incident log "
                      "and the alerts)", masked_url(url), masked_url(str(exc)))

    def close(self) -> None:
        pass
