"""A local, append-only JSON-lines log of every confirmation: the audit trail an admin can grep,
and the alert record of a setup with no alert channel configured."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict
from pathlib import Path

from ..domain import Confirmation, Detection, Frame
from ..errors import SinkError

log = logging.getLogger(__name__)


class IncidentLog:
    name = "incident_log"

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"{path}: cannot open the incident log ({exc.strerror}); "
                            "check state_dir and its permissions") from exc
        self._lock = threading.Lock()

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        for confirmation in confirmations:
            record = {"kind": confirmation.kind, **asdict(confirmation.incident)}
            line = json.dumps(record, default=str)
            with self._lock:
                try:
                    self._fh.write(line + "\n")
                    self._fh.flush()
                    os.fsync(self._fh.fileno())  # an incident must survive a power cut
                except OSError as exc:
                    log.error("incident log %s: write failed (%s); incident %s %s only in this log line",
                              self.path, exc.strerror, confirmation.kind, line)
            if confirmation.kind == "stationary":
                box = confirmation.incident.box
                log.warning("camera=%s: a %s detection has not moved for long at x=%.0f y=%.0f w=%.0f "
                            "h=%.0f; it no longer alerts. If it is not a real weapon, add a mask "
                            "there (cameras.%s.masks)", confirmation.incident.camera,
                            confirmation.incident.label, box.x, box.y, box.w, box.h,
                            confirmation.incident.camera)
                continue
            log.info("incident %s camera=%s id=%s confidence=%.2f update=%d", confirmation.kind,
                     confirmation.incident.camera, confirmation.incident.id,
                     confirmation.incident.confidence, confirmation.incident.update)

    def close(self) -> None:
        with self._lock:
            self._fh.close()
