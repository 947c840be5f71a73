"""Detection metrics in numpy, the one implementation the trainer's validation and the darknet
`detector map` report share: IoU, NMS, matching detections to truths, and all-point AP.

The matching rule is darknet's (validate_detector_map in AlexeyAB's and hank-ai's detector.c):
a detection belongs to the truth of its class it overlaps most, and counts as a hit when that
IoU is strictly above the threshold (`current_iou > iou_thresh`) and no better-ranked detection
took that truth. pycocotools counts IoU equal to the threshold as a hit; on real boxes the two
differ only at exact ties, and the seed study's figures are darknet's.
"""
from __future__ import annotations

import numpy as np


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2,
                     b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of x1,y1,x2,y2 boxes; boxes without area overlap nothing."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Greedy NMS on xyxy boxes; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i:i + 1], boxes[rest])[0] <= thresh]
    return np.array(keep, dtype=np.int64)


def detections_from_rows(rows: np.ndarray, conf: float, nms_thresh: float,
                         max_candidates: int = 1000) -> list[tuple[int, float, np.ndarray]]:
    """rows: (N, 5+C) decoded (cx, cy, w, h, obj, class probs...). Score = obj * class prob;
    per-class NMS over at most ``max_candidates`` best boxes (bounds the time an untrained
    model takes). Returns (class, score, xyxy relative box)."""
    out = []
    boxes = cxcywh_to_xyxy(rows[:, :4])
    scores_all = rows[:, 4:5] * rows[:, 5:]
    for c in range(scores_all.shape[1]):
        s = scores_all[:, c]
        idx = np.nonzero(s > conf)[0]
        if len(idx) > max_candidates:
            idx = idx[np.argsort(-s[idx], kind="stable")[:max_candidates]]
        if not len(idx):
            continue
        for k in nms(boxes[idx], s[idx], nms_thresh):
            out.append((c, float(s[idx[k]]), boxes[idx[k]]))
    return out


def best_truths(ious: np.ndarray, thresh: float) -> np.ndarray:
    """For each detection (row of ``ious``, zero against truths of another class), the truth
    it overlaps most when that IoU is above ``thresh``, else -1: darknet's matching rule."""
    if not ious.shape[1]:
        return np.full(len(ious), -1, np.int64)
    best = ious.argmax(1)
    return np.where(ious[np.arange(len(ious)), best] > thresh, best, -1)


def pr_curves(flat: list[tuple[float, int, int, int]], n_truth: np.ndarray, classes: int,
              truth_total: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """flat: (confidence, class, global truth index or -1, image) per detection. A detection is
    a hit when its truth is not taken by a better-ranked one (ranked by confidence over the
    whole set). Returns the (recall, precision) per rank for each class."""
    order = sorted(range(len(flat)), key=lambda k: -flat[k][0])  # stable: ties keep image order
    taken = np.zeros(truth_total, bool)
    hits: list[list[int]] = [[] for _ in range(classes)]
    for k in order:
        _, cls, truth, _ = flat[k]
        hit = truth >= 0 and not taken[truth]
        if hit:
            taken[truth] = True
        hits[cls].append(int(hit))
    curves = []
    for cls in range(classes):
        tp = np.cumsum(hits[cls], dtype=np.float64)
        fp = np.arange(1, len(tp) + 1) - tp
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        recall = tp / n_truth[cls] if n_truth[cls] else np.zeros_like(tp)
        curves.append((recall, precision))
    return curves


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC 2010+, darknet's "Area-Under-Curve for each unique
    Recall"): each recall step times the best precision at or after it."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def average_precision(dets: list[list[tuple[int, float, np.ndarray]]], truths: list[np.ndarray],
                      cls: int, iou_thresh: float = 0.5) -> dict[str, float]:
    """AP of one class. dets[i]: (class, score, xyxy box) of image i; truths[i]: (N, 5)
    ``class cx cy w h``."""
    flat: list[tuple[float, int, int, int]] = []
    offset = 0
    for i, (d, t) in enumerate(zip(dets, truths)):
        t = t[t[:, 0] == cls]
        mine = [(score, box) for c, score, box in d if c == cls]
        if mine:
            boxes = np.array([box for _, box in mine], np.float64).reshape(-1, 4)
            found = best_truths(iou_matrix(boxes, cxcywh_to_xyxy(t[:, 1:5])), iou_thresh)
            flat += [(score, 0, offset + j if j >= 0 else -1, i) for (score, _), j in zip(mine, found)]
        offset += len(t)
    recall, precision = pr_curves(flat, np.array([offset]), 1, offset)[0]
    return {"ap": voc_ap(recall, precision), "n_truth": float(offset),
            "n_dets": float(len(flat)), "max_recall": float(recall[-1]) if len(flat) else 0.0}


def precision_recall_at(dets: list[list[tuple[int, float, np.ndarray]]], truths: list[np.ndarray],
                        cls: int, conf: float, iou_thresh: float = 0.5) -> tuple[float, float]:
    kept = [[d for d in di if d[1] >= conf] for di in dets]
    n_det = sum(len([d for d in di if d[0] == cls]) for di in kept)
    r = average_precision(kept, truths, cls, iou_thresh)
    tp = r["max_recall"] * r["n_truth"]
    return (tp / n_det if n_det else 0.0), r["max_recall"]
