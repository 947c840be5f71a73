"""Gun-free pictures: labelled pictures with their objects painted out, and folders of pictures
that show none.

A detector trained only on pictures that hold a gun never learns what "no gun" looks like, and
fires on hands, phones and tools held the same way. Painting the gun out of a training picture
keeps its hands, people and room, which are exactly the look-alikes that matter; the same
painted pictures make the gun-free scenes of benchmarks/confirmation.py.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import TrainingError
from .dataset import IMAGE_SUFFIXES, pictures_in

MARGIN = 1.1  # each box grows by 10 %, so the gun's edge and its shadow go too
INPAINT_RADIUS = 5

Box = Sequence[float]  # class cx cy w h, normalised to the picture


def paint_out(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """``image`` (BGR or RGB) with every box filled from its surroundings (Telea inpainting)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for box in boxes:
        cx, cy, bw, bh = (float(v) for v in box[1:5])
        x0, y0 = int((cx - bw / 2 * MARGIN) * w), int((cy - bh / 2 * MARGIN) * h)
        x1, y1 = int((cx + bw / 2 * MARGIN) * w), int((cy + bh / 2 * MARGIN) * h)
        cv2.rectangle(mask, (max(x0, 0), max(y0, 0)), (min(x1, w - 1), min(y1, h - 1)), 255, -1)
    return cv2.inpaint(image, mask, INPAINT_RADIUS, cv2.INPAINT_TELEA)


def painted_count(train_pictures: int, given: int, share: float) -> int:
    """How many labelled train pictures to paint out so that gun-free pictures (those painted
    and the ``given`` ones) make up ``share`` of a train list that starts with
    ``train_pictures`` entries (``given`` among them): n + given >= share * (train_pictures + n)."""
    if not 0.0 <= share < 1.0:
        raise TrainingError(f"gun-free share {share}: must be at least 0 and below 1")
    need = (share * train_pictures - given) / (1.0 - share)
    return max(0, int(np.ceil(need - 1e-9)))


def choose(candidates: list[int], count: int, seed: int) -> list[int]:
    """``count`` of ``candidates``, the same ones for the same seed (sorted, for stable lists)."""
    if count > len(candidates):
        raise TrainingError(f"{count} gun-free pictures asked for, but only {len(candidates)} train "
                         "pictures have boxes to paint out")
    return sorted(random.Random(seed).sample(candidates, count))


def write_painted(source: Path, boxes: Sequence[Box], out_dir: Path) -> Path:
    """Paint the boxes out of ``source`` into ``out_dir/STEM.gunfree.jpg``; returns that path."""
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{source}: cannot decode the picture to paint out")
    path = out_dir / f"{source.stem}.gunfree.jpg"
    if not cv2.imwrite(str(path), paint_out(image, boxes), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"{path}: cannot write the painted-out picture")
    return path


def folder_pictures(folder: Path) -> list[Path]:
    """Every picture under ``folder`` (searched recursively), in a stable order."""
    if not folder.is_dir():
        raise TrainingError(f"--negatives {folder}: not a folder of gun-free pictures")
    pictures = pictures_in(folder)
    if not pictures:
        raise TrainingError(f"--negatives {folder}: no pictures ({', '.join(IMAGE_SUFFIXES)}) in it")
    return pictures
