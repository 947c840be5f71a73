"""Draw detections onto a frame, for annotated output an admin can look at."""

from __future__ import annotations

import cv2
import numpy as np

from .domain import Detection
from .regions.base import Region

# Red for guns (what an admin must see first), a fixed palette for other classes.
GUN_COLOUR = (0, 0, 255)
REGION_COLOUR = (255, 120, 0)  # blue: where the gun model looked, never mistaken for a find
PALETTE = [(255, 160, 0), (0, 200, 0), (200, 0, 200), (0, 200, 200), (120, 120, 255), (255, 255, 0)]


def colour_for(label: str) -> tuple[int, int, int]:
    if label in ("gun", "pistol", "handgun", "rifle", "weapon"):
        return GUN_COLOUR
    return PALETTE[sum(map(ord, label)) % len(PALETTE)]


def draw(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    out = image.copy()
    thickness = max(2, round(min(out.shape[:2]) / 300))
    scale = max(0.5, min(out.shape[:2]) / 900)
    for det in detections:
        x, y, w, h = (int(round(v)) for v in (det.box.x, det.box.y, det.box.w, det.box.h))
        colour = colour_for(det.label)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        text = det.summary
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y - th - base - 2, 0)
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 2), colour, cv2.FILLED)
        cv2.putText(out, text, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out


def draw_regions(image: np.ndarray, regions: list[Region]) -> np.ndarray:
    """Thin outlines of the regions the gun model looked at, each named by its kind."""
    out = image.copy()
    scale = max(0.4, min(out.shape[:2]) / 1400)
    for region in regions:
        if region.kind == "whole":
            continue
        x, y, w, h = (int(round(v)) for v in (region.box.x, region.box.y, region.box.w, region.box.h))
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), REGION_COLOUR, 1)
        cv2.putText(out, region.kind, (x + 3, y + h - 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    REGION_COLOUR, 1, cv2.LINE_AA)
    return out
