"""YOLO anchors fitted to a data set's boxes, the way `darknet detector calc_anchors` fits them.

darknet (AlexeyAB) clusters the labelled boxes' (width, height), in network-input pixels, with
k-means whose distance is 1 - IoU of two boxes sharing a centre: Euclidean distance would let
big boxes dominate the clusters. Centres start at randomly chosen boxes; here the random choice
is seeded, so the same data always gives the same anchors. The result is sorted by area, the
order the YOLO layers' masks expect (small anchors for the fine grid), and rounded to whole
pixels as darknet prints them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..data.loader import read_labels

# The anchors of the stock darknet cfgs (416x416 input), against which fitted ones are compared.
DEFAULT_ANCHORS: dict[str, list[tuple[int, int]]] = {
    "yolov3": [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198),
               (373, 326)],
    "yolov3-tiny": [(10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319)],
    "yolov4-tiny": [(10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319)],
}


def box_sizes(labels: Iterable[np.ndarray], width: int, height: int) -> np.ndarray:
    """(N, 2) float64 width/height in network pixels of every box of the (M, 5) YOLO label
    arrays (boxes of zero size are left out: no anchor can match them)."""
    rows = [np.asarray(lab, np.float64).reshape(-1, 5)[:, 3:5] for lab in labels]
    wh = np.concatenate(rows) if rows else np.zeros((0, 2))
    wh = wh * np.array([width, height], np.float64)
    return wh[(wh[:, 0] > 0) & (wh[:, 1] > 0)]


def wh_iou(sizes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, K) IoU of boxes and anchors placed on the same centre."""
    inter = (np.minimum(sizes[:, None, 0], anchors[None, :, 0])
             * np.minimum(sizes[:, None, 1], anchors[None, :, 1]))
    union = (sizes[:, 0] * sizes[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return inter / union


def mean_best_iou(sizes: np.ndarray, anchors: np.ndarray | list) -> float:
    """darknet's "avg IoU": for each box the IoU of its closest anchor, averaged (0..1)."""
    anchors = np.asarray(anchors, np.float64)
    if not len(sizes):
        return 0.0
    return float(wh_iou(sizes, anchors).max(axis=1).mean())


def kmeans_anchors(sizes: np.ndarray, k: int, seed: int = 0, max_iter: int = 1000) -> np.ndarray:
    """k anchors (k, 2) in the units of ``sizes``, sorted by area, not rounded.

    Lloyd's iterations with distance 1 - IoU and cluster means as centres, stopping when no
    box changes cluster (darknet: at most 1000 rounds). A cluster that loses all its boxes is
    restarted on the box that fits its own anchor worst, so k anchors always come back."""
    if k < 1:
        raise ValueError(f"need at least one anchor (got {k})")
    unique = np.unique(sizes, axis=0)
    if len(unique) < k:
        raise ValueError(f"{len(sizes)} boxes with {len(unique)} distinct sizes cannot give {k} "
                         "anchors; label more images or use the default anchors")
    rng = np.random.default_rng(seed)
    centres = unique[rng.choice(len(unique), size=k, replace=False)].copy()
    assign = np.full(len(sizes), -1)
    for _ in range(max_iter):
        iou = wh_iou(sizes, centres)
        new = iou.argmax(axis=1)
        if np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = sizes[assign == j]
            if len(members):
                centres[j] = members.mean(axis=0)
            else:
                worst = int(iou.max(axis=1).argmin())
                centres[j] = sizes[worst]
    order = np.argsort(centres[:, 0] * centres[:, 1], kind="stable")
    return centres[order]


def rounded(anchors: np.ndarray) -> list[tuple[int, int]]:
    """Whole-pixel anchors (at least 1), as darknet prints them and the cfg holds them."""
    return [(max(1, int(round(w))), max(1, int(round(h)))) for w, h in anchors]


def format_anchors(anchors: Iterable[tuple[float, float]]) -> str:
    """darknet's calc_anchors text: ``%3.0f,%3.0f`` pairs joined by ", "."""
    return ", ".join(f"{w:3.0f},{h:3.0f}" for w, h in anchors)


@dataclass(frozen=True)
class AnchorFit:
    anchors: list[tuple[int, int]]  # whole pixels, sorted by area
    images: int
    boxes: int
    avg_iou: float                  # of the fitted (rounded) anchors, 0..1
    default_iou: float              # of the stock cfg's anchors on the same boxes
    classes_seen: int               # highest class id in the labels + 1


def fit_anchors(label_files: Sequence[Path], arch: str, width: int, height: int,
                seed: int = 0) -> AnchorFit:
    """Anchors for ``arch`` (as many as its stock cfg has) from the boxes in ``label_files``."""
    labels = [read_labels(Path(p)) for p in label_files]
    sizes = box_sizes(labels, width, height)
    if not len(sizes):
        raise ValueError(f"no boxes in the {len(label_files)} label files: cannot fit anchors")
    k = len(DEFAULT_ANCHORS[arch])
    anchors = rounded(kmeans_anchors(sizes, k, seed))
    top = max((int(lab[:, 0].max()) for lab in labels if len(lab)), default=-1)
    return AnchorFit(anchors, len(labels), len(sizes), mean_best_iou(sizes, anchors),
                     mean_best_iou(sizes, DEFAULT_ANCHORS[arch]), top + 1)
