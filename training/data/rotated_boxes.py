"""Mending pictures that an export tool rotated (`gunwatch train prepare --tighten-rotated`,
`--upright-rotated`).

Roboflow-style "rotate -N..+N degrees" augmentation turns the picture about its centre on the
same canvas (black corners) and labels each object with the axis-aligned envelope of its rotated
box. For a long object like a pistol that envelope is far too big: a 2:1 box turned 30 degrees
gets an envelope of twice its area. A detector fitted on such labels learns to draw loose boxes,
and loose boxes fail the IoU 0.5 test on real, unrotated pictures.

Two mends share the first step:
1. the rotation angle from the black corners: each corner's black run along both edges has a
   length that depends only on the angle and the canvas size;
2. the box the object would have had: the rotated box is inverted to the original box, the
   object is taken as the ellipse inscribed in it, and the ellipse's envelope after the rotation
   is the new box (the "ellipse" box of Kalra et al., "Towards Rotation Invariance in Object
   Detection", ICCV 2021). It is never larger than the envelope and equals it at 0 degrees.
   Or (`upright`) the picture is turned back, where the original box is exact, not a guess.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

MAX_DEGREES = 44.0      # the inversion divides by cos^2 - sin^2, which vanishes at 45
STEP_DEGREES = 0.25
MIN_DEGREES = 1.0       # the angle reads within ~0.5 degree: below 1, leave the box alone
DARK = 24               # a pixel whose brightest channel is below this counts as black fill
TOLERANCE_PX = 4.0      # median disagreement between measured and expected corner runs
EDGE = 0.002            # a box side this close to the border (relative) was cut by it


@dataclass(frozen=True)
class Rotation:
    # the turn the picture shows, counter-clockwise as cv2.getRotationMatrix2D takes it; None:
    # the corners fit no rotation (a dark picture, a crop). A flip before the turn reverses the
    # sign it reads as, which does not matter for turning the picture back.
    degrees: float | None
    error_px: float


def _runs(top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Lengths of the True runs from each corner along the four edges, in a fixed order: top
    from left, top from right, bottom from left, bottom from right, left from top, left from
    bottom, right from top, right from bottom."""
    def run(line: np.ndarray) -> int:
        off = np.flatnonzero(~line)
        return int(off[0]) if len(off) else len(line)
    return np.array([run(top), run(top[::-1]), run(bottom), run(bottom[::-1]),
                     run(left), run(left[::-1]), run(right), run(right[::-1])], np.float64)


# the two runs of each corner in _runs' order: top-left, top-right, bottom-left, bottom-right
_CORNERS = ((0, 4), (1, 6), (2, 5), (3, 7))


@lru_cache(maxsize=8)
def _expected_runs(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angles in degrees, the corner runs a rotation by each angle leaves on this canvas, and
    the weight of each run's error).

    The picture's turned edge cuts the canvas edge of a corner's long run at the shallow angle
    theta and that of its short run at 90 - theta. A run that ends a pixel off the true line is
    off by 1 / sin(theta) pixels along a long run (the thin tip of the black triangle fades in
    JPEG) but only 1 / cos(theta) along a short one, so errors are weighted by sin and cos:
    both then count pixels off the line."""
    angles = np.arange(-MAX_DEGREES, MAX_DEGREES + STEP_DEGREES / 2, STEP_DEGREES)
    xs, ys = np.arange(width) + 0.5 - width / 2, np.arange(height) + 0.5 - height / 2
    edges = [(xs, np.full(width, ys[0])), (xs, np.full(width, ys[-1])),
             (np.full(height, xs[0]), ys), (np.full(height, xs[-1]), ys)]
    runs = np.zeros((len(angles), 8))
    for k, deg in enumerate(angles):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        outside = []
        for x, y in edges:
            u, v = c * x + s * y, -s * x + c * y     # the canvas point in the unrotated picture
            outside.append((np.abs(u) > width / 2) | (np.abs(v) > height / 2))
        runs[k] = _runs(*outside)
    theta = np.radians(np.abs(angles))[:, None]
    weight = np.ones_like(runs)
    for a, b in _CORNERS:
        a_long, b_long = runs[:, a:a + 1] > runs[:, b:b + 1], runs[:, b:b + 1] > runs[:, a:a + 1]
        weight[:, a:a + 1] = np.where(a_long, np.sin(theta), np.where(b_long, np.cos(theta), 1.0))
        weight[:, b:b + 1] = np.where(b_long, np.sin(theta), np.where(a_long, np.cos(theta), 1.0))
    return angles, runs, weight


def estimate_rotation(image: np.ndarray) -> Rotation:
    """The angle by which a picture was turned on its own canvas, read from its black corners.
    0 for a picture with no black corners."""
    height, width = image.shape[:2]
    dark = (image.max(axis=2) if image.ndim == 3 else image) < DARK
    measured = _runs(dark[0], dark[-1], dark[:, 0], dark[:, -1])
    angles, expected, weight = _expected_runs(width, height)
    # dark picture content can only lengthen a run, so a run longer than expected is capped
    diff = measured[None, :] - expected
    cost = np.where(diff < 0, -diff, np.minimum(diff, 3 * TOLERANCE_PX)) * weight
    error = np.median(cost, axis=1)
    best = int(np.argmin(error))
    if error[best] > TOLERANCE_PX:
        return Rotation(None, float(error[best]))
    # the table maps canvas points into the picture, the inverse of the turn: hence the minus
    # (and + 0.0, so that an unturned picture reads 0.0, not -0.0)
    return Rotation(-float(angles[best]) + 0.0, float(error[best]))


def tighten(boxes: list[tuple[int, float, float, float, float]], degrees: float,
            width: int, height: int) -> list[tuple[int, float, float, float, float]]:
    """The ellipse boxes for envelope ``boxes`` (class, cx, cy, w, h relative) of a picture
    turned by ``degrees``. A box that touches the border is left as it is: the border cut its
    envelope, so the original box cannot be worked back from it (shrinking those anyway made a
    model draw big guns' boxes a third too small)."""
    if abs(degrees) < MIN_DEGREES:
        return list(boxes)
    c, s = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    out = []
    for cls, cx, cy, w, h in boxes:
        if _on_border(cx, cy, w, h):
            out.append((cls, cx, cy, w, h))
            continue
        ow, oh = _unturned_size(w * width, h * height, c, s)
        out.append((cls, cx, cy, min(math.hypot(ow * c, oh * s) / width, w),
                    min(math.hypot(ow * s, oh * c) / height, h)))
    return out


def upright(image: np.ndarray, boxes: list[tuple[int, float, float, float, float]], degrees: float
            ) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]] | None:
    """The picture turned back by ``degrees`` (a Rotation's reading) with the boxes it had before
    the export turned it: exact, where the ellipse boxes of ``tighten`` are a guess. The turn
    cut the original's corners off the canvas, so they come back black. None when a box touches
    the border (its original cannot be worked back), a label inverts to a side under 1 px (the
    label was too loose for its angle), or the angle is too small to matter."""
    if abs(degrees) < MIN_DEGREES or any(_on_border(*box[1:]) for box in boxes):
        return None
    height, width = image.shape[:2]
    back = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)
    c, s = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    out = []
    for cls, cx, cy, w, h in boxes:
        ow, oh = _unturned_size(w * width, h * height, c, s)
        if ow <= 1 or oh <= 1:
            return None     # a label too noisy to invert: keep the picture out rather than guess
        x, y = back @ np.array([cx * width, cy * height, 1.0])
        out.append((cls, float(x / width), float(y / height), ow / width, oh / height))
    turned_back = cv2.warpAffine(image, back, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return turned_back, out


def _on_border(cx: float, cy: float, w: float, h: float) -> bool:
    return min(cx - w / 2, cy - h / 2) <= EDGE or max(cx + w / 2, cy + h / 2) >= 1 - EDGE


def _unturned_size(bw: float, bh: float, c: float, s: float) -> tuple[float, float]:
    """The sides (px) of the box whose envelope after a turn with |cos| c, |sin| s is bw x bh;
    noisy labels can make a side negative, which reads as 0."""
    return (max((bw * c - bh * s) / (c * c - s * s), 0.0),
            max((bh * c - bw * s) / (c * c - s * s), 0.0))
