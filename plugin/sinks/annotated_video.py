"""Writes every analysed frame with its detections drawn into an MP4, for demos and checks."""

from __future__ import annotations

from pathlib import Path

import cv2

from .. import annotate
from ..domain import Confirmation, Detection, Frame
from ..errors import SinkError


class AnnotatedVideo:
    name = "annotated_video"

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self._writer: cv2.VideoWriter | None = None
        self._open_incident = False

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        for c in confirmations:
            self._open_incident = c.kind in ("opened", "updated")
        sx, sy = frame.scale
        drawn = annotate.draw(frame.image, [d.scaled(1 / sx, 1 / sy) for d in detections])
        if self._open_incident:
            cv2.putText(drawn, "GUN INCIDENT", (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.4, annotate.GUN_COLOUR, 3)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = drawn.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise SinkError(f"cannot write video {self.path}")
        self._writer.write(drawn)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
