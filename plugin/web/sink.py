"""The pipeline sink behind the review pages: records each sighting of an incident (with the frame
as analysed, which a false alarm turns into a gun-free training picture) and keeps every
camera's last analysed frame in memory for the cameras page."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..domain import Confirmation, Detection, Frame
from ..untrusted import file_name
from .store import ReviewStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LastFrame:
    image: object            # numpy BGR array, as analysed (maybe reduced)
    scale: tuple[float, float]
    at: float                # capture time
    analysed_at: float
    guns: int


def review_paths(state_dir: Path) -> tuple[Path, Path, Path]:
    """(review database, frames folder, negatives folder) under a state dir."""
    return state_dir / "review.sqlite", state_dir / "review" / "frames", state_dir / "negatives"


class ReviewSink:
    name = "review"

    def __init__(self, state_dir: Path, model: str):
        db, self.frames_dir, _ = review_paths(state_dir)
        self.store = ReviewStore(db)
        imported = self.store.import_log(state_dir / "incidents.jsonl")
        if imported:
            log.info("review pages: %d incidents taken in from %s", imported, state_dir / "incidents.jsonl")
        self.model = model
        self._last: dict[str, LastFrame] = {}
        self._lock = threading.Lock()

    def last_frames(self) -> dict[str, LastFrame]:
        with self._lock:
            return dict(self._last)

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        with self._lock:
            # Frames are not changed after capture, so keeping a reference costs no copy.
            self._last[frame.camera] = LastFrame(frame.image, frame.scale, frame.at, time.time(), len(detections))
        for confirmation in confirmations:
            incident = confirmation.incident
            if confirmation.kind == "closed":
                self.store.closed(incident.id, frame.at)
                continue
            if confirmation.kind not in ("opened", "updated"):
                continue
            sx, sy = frame.scale
            frame_box = incident.box.scaled(1 / sx, 1 / sy).as_list()
            name = f"{file_name(incident.id)}-{incident.update}.jpg"
            saved: str | None = name
            try:
                self.frames_dir.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(self.frames_dir / name), frame.image):
                    raise OSError("encoder refused")
            except OSError as exc:
                # The sighting is still worth a row: only a false alarm's training picture is lost.
                log.error("camera=%s cannot keep the frame of incident %s for review: %s", frame.camera,
                          incident.id, exc)
                saved = None
            self.store.sighting(
                incident_id=incident.id, camera=incident.camera, label=incident.label,
                started_at=incident.started_at, at=frame.at, confidence=incident.confidence,
                update_no=incident.update, box=incident.box.as_list(), event_id=incident.event_id,
                url=incident.url, model=self.model,
                snapshot=Path(incident.snapshot).name if incident.snapshot else None,
                frame=saved, frame_box=frame_box)

    def close(self) -> None:
        self.store.close()
