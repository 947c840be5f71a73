"""Gun-free pictures: labelled pictures with their objects painted out, and folders of pictures
that show none.

A detector trained only on pictures that hold a gun never learns what "no gun" looks like, and
fires on hands, phones and tools held the same way. Painting the gun out of a training picture
keeps its hands, people and room, which are exactly the look-alikes that matter; the same
painted pictures make the gun-free scenes of benchmarks/confirmation.py.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Collection, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import TrainingError
from .dataset import IMAGE_SUFFIXES, pictures_in

# Painted-out train pictures that a person marked as still showing a gun (training/data/painted_out_sheets.py)
PAINTED_OUT_REVIEW = Path(__file__).resolve().parent / "reviews" / "pistols-painted-out.csv"
MARGIN = 1.1  # each box grows by 10 %, so the gun's edge and its shadow go too
INPAINT_RADIUS = 5
# Inpainting rebuilds the boxes from what is around them. A close-up whose gun fills most of the
# picture has too little around it: the fill is a smear, and where the grown box covers the whole
# picture cv2.inpaint has nothing to copy from and returns the picture unchanged, gun included
# (93 of the 594 pistols valid pictures). Such a picture cannot be made gun-free.
MAX_PAINTED_SHARE = 0.5
_SHARE_GRID = 200  # px of the square on which painted_share draws the mask

Box = Sequence[float]  # class cx cy w h, normalised to the picture


def _mask(h: int, w: int, boxes: Sequence[Box]) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    for box in boxes:
        cx, cy, bw, bh = (float(v) for v in box[1:5])
        x0, y0 = int((cx - bw / 2 * MARGIN) * w), int((cy - bh / 2 * MARGIN) * h)
        x1, y1 = int((cx + bw / 2 * MARGIN) * w), int((cy + bh / 2 * MARGIN) * h)
        cv2.rectangle(mask, (max(x0, 0), max(y0, 0)), (min(x1, w - 1), min(y1, h - 1)), 255, -1)
    return mask


def painted_share(boxes: Sequence[Box]) -> float:
    """The share of the picture that painting ``boxes`` out would repaint (boxes grown, joined)."""
    return float((_mask(_SHARE_GRID, _SHARE_GRID, boxes) > 0).mean())


def can_paint_out(boxes: Sequence[Box]) -> bool:
    """Whether painting ``boxes`` out leaves enough of the picture to rebuild them from."""
    return painted_share(boxes) <= MAX_PAINTED_SHARE


def paint_out(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """``image`` (BGR or RGB) with every box filled from its surroundings (Telea inpainting).
    Check can_paint_out first: past MAX_PAINTED_SHARE the result still shows the object."""
    h, w = image.shape[:2]
    return cv2.inpaint(image, _mask(h, w, boxes), INPAINT_RADIUS, cv2.INPAINT_TELEA)


def painted_count(train_pictures: int, given: int, share: float) -> int:
    """How many labelled train pictures to paint out so that gun-free pictures (those painted
    and the ``given`` ones) make up ``share`` of a train list that starts with
    ``train_pictures`` entries (``given`` among them): n + given >= share * (train_pictures + n)."""
    if not 0.0 <= share < 1.0:
        raise TrainingError(f"gun-free share {share}: must be at least 0 and below 1")
    need = (share * train_pictures - given) / (1.0 - share)
    return max(0, int(np.ceil(need - 1e-9)))


def choose(candidates: list[int], count: int, seed: int, avoid: Collection[int] = ()) -> list[int]:
    """``count`` of ``candidates``, the same ones for the same seed (sorted, for stable lists).
    Those in ``avoid`` (pictures still armed once painted) give way to others drawn from the
    rest, so that marking a picture changes only that picture's place in the list."""
    usable = len(candidates) - len(set(avoid) & set(candidates))
    if count > usable:
        raise TrainingError(f"{count} gun-free pictures asked for, but only {usable} train "
                            f"pictures have boxes that can be painted out (boxes leaving at least "
                            f"{1 - MAX_PAINTED_SHARE:.0%} of the picture, and not marked as still "
                            "showing a gun); lower --gun-free-share or add gun-free pictures with --negatives")
    chosen = random.Random(seed).sample(candidates, count)
    kept = [i for i in chosen if i not in avoid]
    if len(kept) < count:
        taken = set(chosen)
        rest = [i for i in candidates if i not in taken and i not in avoid]
        kept += random.Random(seed + 1).sample(rest, count - len(kept))
    return sorted(kept)


def read_still_armed(path: Path | None = None) -> set[str]:
    """Source pictures (Roboflow's NAME of NAME_jpg.rf.HASH.jpg) that still show a gun once their
    labelled guns are painted out, from a review file (columns source_image, verdict, note; verdict
    ``still-armed`` or ``gun-free``) made with painted_out_sheets; PAINTED_OUT_REVIEW by default."""
    path = path or PAINTED_OUT_REVIEW
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    except FileNotFoundError as exc:
        raise TrainingError(f"{path}: review file of painted-out pictures missing") from exc
    armed: set[str] = set()
    for line, row in enumerate(rows, start=2):
        verdict = (row.get("verdict") or "").strip()
        if verdict not in ("still-armed", "gun-free"):
            raise TrainingError(f"{path}: row {line - 1}: verdict {verdict!r} is not still-armed or gun-free")
        if verdict == "still-armed":
            armed.add(row["source_image"].strip())
    return armed


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
