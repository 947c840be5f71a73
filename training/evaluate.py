"""Detection metrics in numpy: NMS and VOC all-point average precision at an IoU threshold."""
from __future__ import annotations

import numpy as np


def iou_xyxy(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(a + b - inter, 1e-12)


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2,
                     b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)


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
        order = rest[iou_xyxy(boxes[i], boxes[rest]) <= thresh]
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


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC 2010+)."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def average_precision(dets: list[list[tuple[int, float, np.ndarray]]], truths: list[np.ndarray],
                      cls: int, iou_thresh: float = 0.5) -> dict[str, float]:
    """AP of one class. dets[i]: detections of image i; truths[i]: (N, 5) ``class cx cy w h``."""
    gt = {}
    n_gt = 0
    for i, t in enumerate(truths):
        t = t[t[:, 0] == cls]
        gt[i] = (cxcywh_to_xyxy(t[:, 1:5]), np.zeros(len(t), bool))
        n_gt += len(t)
    flat = [(score, i, box) for i, d in enumerate(dets) for (c, score, box) in d if c == cls]
    flat.sort(key=lambda r: -r[0])
    tp = np.zeros(len(flat))
    for k, (_, i, box) in enumerate(flat):
        g, used = gt[i]
        if len(g):
            ious = iou_xyxy(box, g)
            j = int(np.argmax(ious))
            if ious[j] >= iou_thresh and not used[j]:
                used[j] = True
                tp[k] = 1
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / max(n_gt, 1)
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    ap = voc_ap(recall, precision) if len(flat) else 0.0
    return {"ap": ap, "n_truth": float(n_gt), "n_dets": float(len(flat)),
            "max_recall": float(recall[-1]) if len(flat) else 0.0}


def precision_recall_at(dets: list[list[tuple[int, float, np.ndarray]]], truths: list[np.ndarray],
                        cls: int, conf: float, iou_thresh: float = 0.5) -> tuple[float, float]:
    kept = [[d for d in di if d[1] >= conf] for di in dets]
    n_det = sum(len([d for d in di if d[0] == cls]) for di in kept)
    r = average_precision(kept, truths, cls, iou_thresh)
    tp = r["max_recall"] * r["n_truth"]
    return (tp / n_det if n_det else 0.0), r["max_recall"]
