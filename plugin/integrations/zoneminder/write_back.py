"""The sink half of the ZoneMinder adapter: a confirmed gun goes back into ZoneMinder as event
Notes, objdetect.jpg + objects.json in the event folder and, optionally, a forced alarm.

An event is marked when one of its frames shows the gun while the camera has a confirmed
incident (opened or updated, not yet closed): the incident may have been confirmed on frames of
this event or, seconds before, of the previous one. What is written is the event's best frame so
far (its most confident detection), not necessarily the frame that completed the confirmation.
The writes are jobs of the write-back journal (sinks/write_back.py): a worker thread does them, so
the detector never waits for ZoneMinder, and they wait out a ZoneMinder (or a gunwatch) that is
down; a forced alarm's end is a job too, so a restart cannot leave ZoneMinder recording.

ZoneMinder rewrites an event's Notes while it records whenever the set of alarm causes changes
(a new Modect zone, a zmtrigger or API alarm, gunwatch's own included), dropping what others
wrote. So the notes job comes back every CLOSE_CHECK_S until ZoneMinder closes the event, and
writes the notes again when they were dropped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ... import annotate
from ...domain import BBox, Confirmation, Detection, Frame, Incident
from ...errors import GunwatchError
from ...registry import register
from ...sinks.write_back import Job, Later, RecorderUnavailable, WriteBackJournal, WriteBackWorker
from .client import ZoneMinderClient, ZoneMinderUnavailable, redact
from .config import ZoneMinderSourceConfig
from .events import FollowedEvents
from .formats import best_per_label, has_our_notes, merge_notes, objects_json, parse_origin

log = logging.getLogger(__name__)

# How often the notes of a marked event still recording are looked at.
CLOSE_CHECK_S = 2.0
# Results kept for `result()` (the hook's answer) and best frames kept of events in progress.
KEEP_RESULTS = 1000
KEEP_CANDIDATES = 64


@dataclass(frozen=True)
class EventResult:
    """What gunwatch found in one event: the frame it is shown on and its detections."""

    event_id: int
    monitor_id: int
    camera: str
    frame: str                 # frame number, "alarm" or "snapshot"
    detections: tuple[Detection, ...]
    width: int                 # the original frame's size (boxes are in its pixels)
    height: int
    folder: Path | None

    @property
    def summary(self) -> str:
        """`gun 93%`: the best detection of each label."""
        return " ".join(d.summary for d in best_per_label(list(self.detections)))

    def to_dict(self) -> dict:
        """As a write-back job's payload (JSON)."""
        return {"event_id": self.event_id, "monitor_id": self.monitor_id, "camera": self.camera,
                "frame": self.frame, "detections": [d.to_dict() for d in self.detections],
                "width": self.width, "height": self.height,
                "folder": str(self.folder) if self.folder else None}

    @classmethod
    def from_dict(cls, data: dict) -> EventResult:
        detections = tuple(Detection(d["label"], d["confidence"], BBox(*d["box"])) for d in data["detections"])
        return cls(data["event_id"], data["monitor_id"], data["camera"], data["frame"], detections,
                   data["width"], data["height"], Path(data["folder"]) if data["folder"] else None)


@dataclass(frozen=True)
class _Candidate:
    """An event's most convincing frame so far, kept until the event is marked or finished."""

    confidence: float
    frame: str
    detections: tuple[Detection, ...]
    raw: bytes | None
    width: int
    height: int


@register("write_back", "zoneminder")
class ZoneMinderWriteBack:
    name = "zoneminder_write_back"

    def __init__(self, config: ZoneMinderSourceConfig, events: FollowedEvents, journal: WriteBackJournal):
        self.config, self.events, self.journal = config, events, journal
        self.client = ZoneMinderClient(config)
        self.recorder = f"zoneminder:{redact(config.portal)}"
        self._open: dict[str, Incident] = {}          # camera -> its confirmed, open incident
        self._results: OrderedDict[int, EventResult] = OrderedDict()
        self._best: OrderedDict[int, _Candidate] = OrderedDict()   # event id -> best frame, until marked
        self._lock = threading.Lock()
        self.worker = WriteBackWorker(journal, self.recorder, self._deliver, self.config.write_back_retry_s,
                                      shown=redact)

    def result(self, event_id: int) -> EventResult | None:
        with self._lock:
            return self._results.get(event_id)

    # ------------------------------------------------------------ sink (the pipeline's thread)
    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        parsed = parse_origin(frame.origin)
        if parsed is None:
            return
        event_id, key = parsed
        for c in confirmations:
            if c.kind in ("opened", "updated"):
                self._open[c.incident.camera] = c.incident
            elif c.kind == "closed":
                self._open.pop(c.incident.camera, None)
        if not detections:
            return
        where = self.events.where(event_id)
        if where is None:
            return     # the source is done with the event (finished or deleted)
        with self._lock:
            if event_id in self._results:
                return
            best = self._best.get(event_id)
            confidence = max(d.confidence for d in detections)
            if best is None or confidence > best.confidence:
                height, width = frame.image.shape[:2]
                sx, sy = frame.scale
                best = self._best[event_id] = _Candidate(
                    confidence, key, tuple(detections), self.events.frame(event_id, key),
                    round(width * sx), round(height * sy))
                while len(self._best) > KEEP_CANDIDATES:
                    self._best.popitem(last=False)
        if frame.camera not in self._open:
            return
        monitor_id, folder = where
        result = EventResult(event_id, monitor_id, frame.camera, best.frame, best.detections,
                             best.width, best.height, folder)
        with self._lock:
            self._results[event_id] = result
            self._best.pop(event_id, None)
            while len(self._results) > KEEP_RESULTS:
                self._results.popitem(last=False)
        self.events.gun_found(event_id)
        log.info("event=%s camera=%s: %s (best in frame %s)", event_id, frame.camera, result.summary,
                 best.frame)
        payload = result.to_dict()
        # Local files first: they need no answer from ZoneMinder's web server.
        if self.config.objdetect and best.raw is not None:
            self.journal.put(self.recorder, "objdetect", f"objdetect:{event_id}", payload, best.raw)
        if self.config.notes:
            self.journal.put(self.recorder, "notes", f"notes:{event_id}", payload)
        if self.config.alarm != "off":
            self.journal.put(self.recorder, "alarm", f"alarm:{monitor_id}", payload)
        self.worker.wake()

    def close(self) -> None:
        self.worker.close()
        self.cancel_alarms()

    # ------------------------------------------------------------ the worker's thread
    def _deliver(self, job: Job) -> Later | None:
        try:
            if job.kind == "alarm_off":
                self.client.alarm(job.payload["monitor_id"], False)
                log.info("monitor=%s: forced alarm cancelled", job.payload["monitor_id"])
                return None
            result = EventResult.from_dict(job.payload)
            if job.kind == "objdetect":
                self._write_objdetect(result, job.blob or b"")
            elif job.kind == "notes":
                return self._write_notes(result)
            elif job.kind == "alarm":
                self._raise_alarm(result)
            return None
        except ZoneMinderUnavailable as exc:
            raise RecorderUnavailable(str(exc)) from None

    # ------------------------------------------------------------ the writes
    def _write_notes(self, result: EventResult) -> Later | None:
        data = self.client.event(result.event_id)
        if data is None:
            log.info("event=%s was deleted before its notes could be written", result.event_id)
            return None
        event = data.get("Event", {})
        before = event.get("Notes") or ""
        after = merge_notes(before, list(result.detections))
        if not (has_our_notes(before) and before == after):
            if not self.client.update_notes(result.event_id, after):
                log.info("event=%s was deleted before its notes could be written", result.event_id)
                return None
            log.info("event=%s: notes %r", result.event_id, after)
        if event.get("EndDateTime"):
            return None
        return Later(CLOSE_CHECK_S, "still recording: notes checked again when it closes")

    def _write_objdetect(self, result: EventResult, raw: bytes) -> None:
        folder = result.folder
        if folder is None or not folder.is_dir():
            log.warning("event=%s: objdetect.jpg not written: event folder %s is not reachable from "
                        "this host", result.event_id, folder)
            return
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"frame {result.frame} no longer decodes")
        drawn = annotate.draw(image, list(result.detections))
        ok, jpeg = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise OSError("JPEG encoder refused the annotated frame")
        payload = objects_json(result.frame, list(result.detections), result.width, result.height)
        _write_beside(folder, "objdetect.jpg", jpeg.tobytes())
        _write_beside(folder, "objects.json", json.dumps(payload).encode())
        log.info("event=%s: wrote objdetect.jpg and objects.json in %s", result.event_id, folder)

    def _raise_alarm(self, result: EventResult) -> None:
        seconds = self.config.alarm_s
        if self.config.alarm == "zmtrigger":
            host = self.client.portal.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
            # zmtrigger.pl: id|action|score|cause|text|showtext, one command per line; on+N
            # cancels itself after N seconds.
            text = result.summary.replace("|", "/")
            line = f"{result.monitor_id}|on+{int(seconds)}|255|gunwatch|{text}|{text}\n"
            try:
                with socket.create_connection((host, self.config.zmtrigger_port), timeout=5) as conn:
                    conn.sendall(line.encode())
            except OSError as exc:
                raise ZoneMinderUnavailable(f"zmtrigger {host}:{self.config.zmtrigger_port}: {exc}") from None
            log.info("monitor=%s: alarm for %.0f s through zmtrigger", result.monitor_id, seconds)
            return
        self.client.alarm(result.monitor_id, True)
        # A later gun on the same monitor pushes the end back.
        self.journal.put(self.recorder, "alarm_off", f"alarm_off:{result.monitor_id}",
                         {"monitor_id": result.monitor_id}, delay_s=seconds, reschedule=True)
        self.worker.wake()
        log.info("monitor=%s: alarm for %.0f s through the API", result.monitor_id, seconds)

    def cancel_alarms(self) -> None:
        """Stopping: an alarm gunwatch forced must not outlive it (ZoneMinder would record until
        someone cancels it); one ZoneMinder does not take now stays filed for the next start."""
        for job in self.journal.pending(self.recorder):
            if job.kind == "alarm_off":
                try:
                    self.client.alarm(job.payload["monitor_id"], False)
                    self.journal.finish(job, "done")
                except GunwatchError as exc:
                    log.error("monitor=%s: could not cancel the forced alarm (%s); ZoneMinder keeps "
                              "recording until it is cancelled", job.payload["monitor_id"], redact(str(exc)))


def _write_beside(folder: Path, name: str, data: bytes) -> None:
    """Write atomically (the web console may read it any moment), owned like the event folder."""
    tmp = folder / f".{name}.gunwatch-tmp"
    tmp.write_bytes(data)
    if os.geteuid() == 0:
        owner = folder.stat()
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, folder / name)
