"""Pure per-frame filters applied to a camera's detections before confirmation.

Zones and masks are polygons in the camera's pixel space. A detection counts inside a polygon
when its box centre is inside (the usual NVR convention: Frigate and zmeventnotification test a
point of the box, not the whole box), so a gun held at the edge of a zone still counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..domain import Detection

Polygon = list[tuple[float, float]]


def inside(polygon: Polygon, point: tuple[float, float]) -> bool:
    contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


@dataclass(frozen=True)
class FrameFilter:
    """What a camera keeps of a frame's detections."""

    labels: frozenset[str] = frozenset({"gun"})
    confidence: float = 0.0
    min_area: float = 0.0          # fraction of the frame area
    max_area: float = 1.0
    zones: tuple[Polygon, ...] = field(default_factory=tuple)   # empty = whole frame
    masks: tuple[Polygon, ...] = field(default_factory=tuple)   # never alert from here

    def keep(self, detections: list[Detection], frame_w: int, frame_h: int) -> list[Detection]:
        area = float(frame_w * frame_h)
        kept = []
        for det in detections:
            if det.label not in self.labels or det.confidence < self.confidence:
                continue
            fraction = det.box.area / area if area else 0.0
            if not self.min_area <= fraction <= self.max_area:
                continue
            centre = det.box.center
            if self.zones and not any(inside(z, centre) for z in self.zones):
                continue
            if any(inside(m, centre) for m in self.masks):
                continue
            kept.append(det)
        return kept
