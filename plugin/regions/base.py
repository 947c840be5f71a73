"""Regions of a frame that the gun model looks at, and the geometry they share.

A region is a rectangle of the frame's pixels. The detector resizes whatever it is given to the
model's input, so a 300-pixel crop around a distant person reaches the network at 416 pixels
with its gun still some 20 pixels long, where the whole 1080p frame would have shrunk it to a
few pixels. Boxes found in a crop are moved back into frame pixels and merged with those of
the other regions by one NMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..domain import BBox, Detection


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the frame (whole pixels) and what proposed it: whole, person, motion, tile."""

    kind: str
    box: BBox

    def crop(self, image: np.ndarray) -> np.ndarray:
        x, y, w, h = (int(v) for v in (self.box.x, self.box.y, self.box.w, self.box.h))
        return image[y:y + h, x:x + w]


class RegionProposer(Protocol):
    """One region mode for one camera; it may keep state between that camera's frames."""

    kind: str

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        """Regions of this BGR frame captured at epoch `at`, most useful first."""


def square_crop(box: BBox, frame_w: int, frame_h: int, grow: float, min_side: int) -> BBox:
    """A square around `box`: its longer side plus `grow` of it, at least `min_side`, never
    larger than the frame's shorter side, shifted (not cut) to stay inside the frame.

    Square because the gun model was trained on square pictures and letterboxes anything else;
    grown because a gun held at arm's length reaches outside the person's box."""
    limit = min(frame_w, frame_h)
    side = min(float(limit), max(float(min_side), max(box.w, box.h) * (1.0 + grow)))
    side = float(int(side))
    cx, cy = box.center
    x = min(max(0.0, cx - side / 2), frame_w - side)
    y = min(max(0.0, cy - side / 2), frame_h - side)
    return BBox(float(int(x)), float(int(y)), side, side)


def overlap_share(inner: BBox, outer: BBox) -> float:
    """The share of `inner`'s area that lies inside `outer`."""
    ix = max(0.0, min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x))
    iy = max(0.0, min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y))
    return ix * iy / inner.area if inner.area > 0 else 1.0


def without_repeats(regions: list[Region], share: float = 0.8) -> list[Region]:
    """Drops each crop whose area lies mostly (`share`) inside a crop kept before it: two people
    side by side would otherwise cost two gun passes over nearly the same pixels. The whole
    frame is never counted as covering a crop: it reaches the network at a coarser scale."""
    kept: list[Region] = []
    for region in regions:
        if region.kind != "whole" and any(k.kind != "whole" and overlap_share(region.box, k.box) >= share
                                          for k in kept):
            continue
        kept.append(region)
    return kept


def to_frame(detections: list[Detection], region: Region) -> list[Detection]:
    """Boxes found in a region's crop, in the frame's pixels."""
    dx, dy = region.box.x, region.box.y
    return [Detection(d.label, d.confidence, BBox(d.box.x + dx, d.box.y + dy, d.box.w, d.box.h))
            for d in detections]


def merge(detections: list[Detection], nms: float) -> list[Detection]:
    """One box per object across regions: per-class NMS at the model's threshold, best first.
    The same gun seen in a person crop and in the whole frame keeps the surer of the two."""
    if len(detections) < 2:
        return list(detections)
    labels = sorted({d.label for d in detections})
    boxes = [[d.box.x, d.box.y, d.box.w, d.box.h] for d in detections]
    scores = [d.confidence for d in detections]
    classes = [labels.index(d.label) for d in detections]
    chosen = cv2.dnn.NMSBoxesBatched(boxes, scores, classes, 0.0, nms)
    order = sorted(np.asarray(chosen, dtype=int).reshape(-1), key=lambda i: -scores[i])
    return [detections[i] for i in order]
