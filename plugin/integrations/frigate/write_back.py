"""The verdict, written back into Frigate so that it lands on the right event.

Three ways a sub label got lost, and what is done about each:
- Frigate 0.14 and 0.15 look the event up in their database (`POST /api/events/<id>/sub_label`,
  frigate/api/event.py), where an event is written only once it has a snapshot or a clip
  (should_update_db, frigate/events/maintainer.py, v0.14.1), and a moment after its MQTT
  message. So a 404 is retried for `sub_label_retry_s`; after that (a camera with neither
  snapshots nor recordings) a Frigate event is created instead (`POST /api/events/<camera>/
  <label>/create`, which needs only a known camera), so the verdict is in Frigate either way.
- Several people on one camera: the sub label goes to the event whose box holds the gun.
  Frigate's `after.box` is x1, y1, x2, y2 in the detect resolution, which is latest.jpg's size,
  and incident boxes are in latest.jpg's pixels too (the pipeline maps them back from the
  decoded size).
- From 0.16 face recognition writes sub labels too (frigate/data_processing/real_time/face.py).
  A sub label someone else set is never overwritten: the log says so, and the verdict goes into
  a created event instead.
HTTP runs on the source's thread (deliver_due), never on the pipeline's.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from ...domain import BBox, Confirmation, Detection, Frame, Incident
from ...untrusted import log_field, masked_url, url_segment

if TYPE_CHECKING:
    from .source import FrigateSource

log = logging.getLogger(__name__)

CREATED_EVENT_SUB_LABEL = "gunwatch"
CREATED_EVENT_DURATION_S = 30
LONGEST_RETRY_GAP_S = 5.0


def overlap(gun: BBox, frigate_box: list[float] | None) -> tuple[float, float]:
    """(share of the gun box inside Frigate's box, IoU): the first decides which person holds
    the gun, the second breaks ties between nested boxes. (0, 0) without a box."""
    if not frigate_box:
        return 0.0, 0.0
    x1, y1, x2, y2 = frigate_box
    width = min(gun.x + gun.w, x2) - max(gun.x, x1)
    height = min(gun.y + gun.h, y2) - max(gun.y, y1)
    inter = max(width, 0.0) * max(height, 0.0)
    union = gun.area + max(x2 - x1, 0.0) * max(y2 - y1, 0.0) - inter
    return (inter / gun.area if gun.area else 0.0), (inter / union if union else 0.0)


@dataclass
class PendingWrite:
    kind: str                  # "sub_label" (on event_id) or "create" (a Frigate event)
    incident: Incident
    event_id: str | None
    first_try: float           # time.monotonic()
    due: float


class FrigateWriteBack:
    """The sink half of the Frigate adapter: sub label or created event, Home Assistant state."""

    name = "frigate_write_back"

    def __init__(self, source: FrigateSource):
        self.source = source
        self._pending: list[PendingWrite] = []
        self._created: set[str] = set()          # incidents with a Frigate event of their own
        self._labelled: dict[str, float] = {}    # event id -> score gunwatch wrote on it
        self._lock = threading.Lock()

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        if not frame.origin.startswith("frigate:"):
            return
        config = self.source.config
        for c in confirmations:
            incident = c.incident
            if self.source.home_assistant and c.kind in ("opened", "updated", "closed"):
                self.source.home_assistant.gun(incident.camera, c.kind != "closed")
            if c.kind not in ("opened", "updated"):
                continue
            event_id = self.event_holding(incident, frame.event_id)
            if config.sub_label and event_id:
                self._queue("sub_label", incident, event_id)
            if c.kind == "opened" and config.create_event:
                self._queue("create", incident, None)

    def event_holding(self, incident: Incident, newest: str | None) -> str | None:
        """The camera's live event whose box holds the incident's box; the newest event when no
        box overlaps it (Frigate has not sent one yet)."""
        followed = self.source.followed(incident.camera)
        scored = [(overlap(incident.box, event.box), event_id) for event_id, event in followed.items()]
        best = max(scored, default=None, key=lambda pair: pair[0])
        if best and best[0][0] > 0:
            return best[1]
        return newest

    def _queue(self, kind: str, incident: Incident, event_id: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            for pending in self._pending:
                if pending.kind == kind and pending.event_id == event_id and pending.incident.id == incident.id:
                    pending.incident = incident  # a later sighting: the newer confidence
                    return
            if kind == "sub_label" and self._labelled.get(event_id, -1.0) >= incident.confidence:
                return
            if kind == "create" and incident.id in self._created:
                return
            self._pending.append(PendingWrite(kind, incident, event_id, now, now))

    def deliver_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [p for p in self._pending if p.due <= now]
            self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            if pending.kind == "sub_label":
                self._set_sub_label(pending)
            else:
                self._create_event(pending)

    def _later(self, pending: PendingWrite) -> None:
        waited = time.monotonic() - pending.first_try
        pending.due = time.monotonic() + min(LONGEST_RETRY_GAP_S, max(0.5, waited))
        with self._lock:
            self._pending.append(pending)

    def _set_sub_label(self, pending: PendingWrite) -> None:
        incident, event_id = pending.incident, pending.event_id
        followed = self.source.followed_event(event_id)
        theirs = followed.sub_label if followed and followed.sub_label != incident.label else None
        if theirs:
            log.info("frigate event=%s already has the sub label %s from another source (face "
                     "recognition or an integration): left as it is; the gun goes into a Frigate "
                     "event of its own", event_id, log_field(theirs))
            return self._queue("create", incident, None)
        score = round(min(max(incident.confidence, 0.001), 1.0), 3)  # Frigate wants 0 < score <= 1
        answer, why = self._post(f"events/{url_segment(event_id)}/sub_label",
                                 {"subLabel": incident.label, "subLabelScore": score})
        if answer == 200:
            self._labelled[event_id] = incident.confidence
            log.info("frigate event=%s sub label set to %s (%.2f)", event_id, incident.label, score)
            return
        if answer is None or answer == 404 or answer >= 500:
            if time.monotonic() - pending.first_try < self.source.config.sub_label_retry_s:
                return self._later(pending)
            log.warning("frigate event=%s: no sub label after %.0f s (%s; Frigate 0.14 and 0.15 keep "
                        "an event only once it has a snapshot or a clip): a Frigate event is "
                        "created instead", event_id, self.source.config.sub_label_retry_s, why)
            return self._queue("create", incident, None)
        log.error("frigate event=%s: the sub label was refused (%s)", event_id, why)

    def _create_event(self, pending: PendingWrite) -> None:
        incident = pending.incident
        path = f"events/{url_segment(incident.camera)}/{url_segment(incident.label)}/create"
        answer, why = self._post(path, {"sub_label": CREATED_EVENT_SUB_LABEL,
                                        "score": round(incident.confidence, 3),
                                        "duration": CREATED_EVENT_DURATION_S, "include_recording": True})
        if answer == 200:
            self._created.add(incident.id)
            log.info("frigate camera=%s: event %s created for incident %s", incident.camera,
                     incident.label, incident.id)
        elif answer is None and time.monotonic() - pending.first_try < self.source.config.sub_label_retry_s:
            self._later(pending)
        else:
            log.error("frigate camera=%s: creating the gun event failed (%s); the incident is still "
                      "in the incident log and the alerts", incident.camera, why)

    def _post(self, path: str, body: dict) -> tuple[int | None, str]:
        """Frigate's status code (None when it could not be reached) and a loggable reason."""
        try:
            response = self.source.api.request("POST", path, json=body)
        except requests.RequestException as exc:
            return None, masked_url(str(exc))
        return response.status_code, f"HTTP {response.status_code}: {log_field(response.text[:200])}"

    def close(self) -> None:
        pass
