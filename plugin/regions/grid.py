"""Regions that need no model: the whole frame, and a fixed overlapping grid of tiles."""

from __future__ import annotations

import numpy as np

from ..domain import BBox
from ..registry import register
from .base import Region
from .config import RegionSettings


@register("region", "whole")
class WholeFrame:
    """The frame as it is: what gunwatch did before regions, and still the only view that sees
    a gun held up close to the camera whole."""

    kind = "whole"

    def __init__(self, settings: RegionSettings, person=None):
        pass

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        h, w = image.shape[:2]
        return [Region(self.kind, BBox(0.0, 0.0, float(w), float(h)))]


def grid(frame_w: int, frame_h: int, columns: int, rows: int, overlap: float) -> list[BBox]:
    """`columns` x `rows` tiles covering the frame, each overlapping its neighbours by
    `overlap` of its own size, row by row from the top left."""
    tile_w = frame_w / (columns - (columns - 1) * overlap)
    tile_h = frame_h / (rows - (rows - 1) * overlap)
    boxes = []
    for r in range(rows):
        for c in range(columns):
            x0 = round(c * tile_w * (1 - overlap))
            y0 = round(r * tile_h * (1 - overlap))
            x1 = frame_w if c == columns - 1 else round(x0 + tile_w)
            y1 = frame_h if r == rows - 1 else round(y0 + tile_h)
            boxes.append(BBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    return boxes


@register("region", "tiles")
class Tiles:
    """A fixed grid: for cameras whose people are too small or hidden for the person model and
    whose scene moves too much for motion regions. Costs one gun pass per tile."""

    kind = "tile"

    def __init__(self, settings: RegionSettings, person=None):
        self.columns, self.rows = settings.tiles
        self.overlap = settings.tile_overlap

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        h, w = image.shape[:2]
        return [Region(self.kind, box) for box in grid(w, h, self.columns, self.rows, self.overlap)]
