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
The writes are jobs of the write-back journal (sinks/write_back.py), done by a worker thread with
a Frigate session of its own, never on the pipeline's thread; a Frigate that does not answer
(down, restarting) is retried for `write_back_retry_s`, across restarts of gunwatch.
"""

from __future__ import annotations

import logging
import threading
import time

import requests

from ...domain import BBox, Confirmation, Detection, Frame, Incident
from ...registry import register
from ...sinks.write_back import Job, Later, RecorderUnavailable, WriteBackJournal, WriteBackWorker, WriteRefused
from ...untrusted import log_field, masked_url, url_segment
from .api import FrigateApi
from .config import FrigateSourceConfig
from .events import FollowedEvents

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


@register("write_back", "frigate")
class FrigateWriteBack:
    """The sink half of the Frigate adapter: sub label or created event, Home Assistant state."""

    name = "frigate_write_back"

    def __init__(self, config: FrigateSourceConfig, events: FollowedEvents, journal: WriteBackJournal):
        self.config, self.events, self.journal = config, events, journal
        self.api = FrigateApi(config.url, config.auth, config.timeout_s,
                              tls_verify=config.ca_file or config.tls_verify)
        self.recorder = f"frigate:{masked_url(config.url)}"
        self._labelled: dict[str, float] = {}    # event id -> score gunwatch wrote on it
        self._lock = threading.Lock()
        self.worker = WriteBackWorker(journal, self.recorder, self._deliver, config.write_back_retry_s,
                                      shown=masked_url)

    # ------------------------------------------------------------ sink (the pipeline's thread)
    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        if not frame.origin.startswith("frigate:"):
            return
        for c in confirmations:
            incident = c.incident
            if self.events.home_assistant and c.kind in ("opened", "updated", "closed"):
                self.events.home_assistant.gun(incident.camera, c.kind != "closed")
            if c.kind not in ("opened", "updated"):
                continue
            event_id = self.event_holding(incident, frame.event_id)
            if self.config.sub_label and event_id:
                with self._lock:
                    done = self._labelled.get(event_id, -1.0) >= incident.confidence
                if not done:
                    self._file("sub_label", f"sub_label:{event_id}", incident, event_id)
            if c.kind == "opened" and self.config.create_event:
                self._file("create", f"create:{incident.id}", incident, None)
        self.worker.wake()

    def event_holding(self, incident: Incident, newest: str | None) -> str | None:
        """The camera's live event whose box holds the incident's box; the newest event when no
        box overlaps it (Frigate has not sent one yet)."""
        followed = self.events.followed(incident.camera)
        scored = [(overlap(incident.box, event.box), event_id) for event_id, event in followed.items()]
        best = max(scored, default=None, key=lambda pair: pair[0])
        if best and best[0][0] > 0:
            return best[1]
        return newest

    def _file(self, kind: str, key: str, incident: Incident, event_id: str | None) -> None:
        if kind == "create" and self.journal.state(self.recorder, key) == "done":
            return   # one created event per incident
        self.journal.put(self.recorder, kind, key, {
            "event_id": event_id, "incident": incident.id, "camera": incident.camera,
            "label": incident.label, "confidence": incident.confidence})

    def close(self) -> None:
        self.worker.close()

    # ------------------------------------------------------------ the worker's thread
    def _deliver(self, job: Job) -> Later | None:
        if job.kind == "sub_label":
            return self._set_sub_label(job)
        return self._create_event(job)

    def _set_sub_label(self, job: Job) -> Later | None:
        p = job.payload
        event_id = p["event_id"]
        followed = self.events.followed_event(event_id)
        theirs = followed.sub_label if followed and followed.sub_label != p["label"] else None
        if theirs:
            log.info("frigate event=%s already has the sub label %s from another source (face "
                     "recognition or an integration): left as it is; the gun goes into a Frigate "
                     "event of its own", event_id, log_field(theirs))
            self._file_create(p)
            return None
        score = round(min(max(p["confidence"], 0.001), 1.0), 3)  # Frigate wants 0 < score <= 1
        answer, why = self._post(f"events/{url_segment(event_id)}/sub_label",
                                 {"subLabel": p["label"], "subLabelScore": score})
        if answer == 200:
            with self._lock:
                self._labelled[event_id] = p["confidence"]
            log.info("frigate event=%s sub label set to %s (%.2f)", event_id, p["label"], score)
            return None
        if answer == 404:
            waited = time.time() - job.created_at
            if waited < self.config.sub_label_retry_s:
                return Later(min(LONGEST_RETRY_GAP_S, max(0.5, waited)), why)
            log.warning("frigate event=%s: no sub label after %.0f s (%s; Frigate 0.14 and 0.15 keep "
                        "an event only once it has a snapshot or a clip): a Frigate event is "
                        "created instead", event_id, self.config.sub_label_retry_s, why)
            self._file_create(p)
            return None
        raise WriteRefused(f"frigate event={event_id}: the sub label was refused ({why})")

    def _file_create(self, payload: dict) -> None:
        self.journal.put(self.recorder, "create", f"create:{payload['incident']}", payload)
        self.worker.wake()

    def _create_event(self, job: Job) -> None:
        p = job.payload
        path = f"events/{url_segment(p['camera'])}/{url_segment(p['label'])}/create"
        answer, why = self._post(path, {"sub_label": CREATED_EVENT_SUB_LABEL,
                                        "score": round(p["confidence"], 3),
                                        "duration": CREATED_EVENT_DURATION_S, "include_recording": True})
        if answer != 200:
            raise WriteRefused(f"frigate camera={p['camera']}: creating the gun event failed ({why}); "
                               "the incident is still in the incident log and the alerts")
        log.info("frigate camera=%s: event %s created for incident %s", p["camera"], p["label"], p["incident"])

    def _post(self, path: str, body: dict) -> tuple[int, str]:
        """Frigate's status code and a loggable reason; RecorderUnavailable when Frigate did not
        answer, or answered as a server that is starting or failing (5xx)."""
        try:
            response = self.api.request("POST", path, json=body)
        except requests.RequestException as exc:
            raise RecorderUnavailable(masked_url(str(exc))) from None
        why = f"HTTP {response.status_code}: {log_field(response.text[:200])}"
        if response.status_code >= 500:
            raise RecorderUnavailable(why)
        return response.status_code, why
