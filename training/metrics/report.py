"""Detection accuracy as darknet's `detector map` computes and prints it, for any gunwatch model.

Semantics of AlexeyAB's validate_detector_map, which the seed study's figures come from:
- every detection above 0.005 after NMS 0.45 enters the AP; a detection is a true positive when
  its best-overlapping truth of the same class has IoU > the threshold and no higher-ranked
  detection took that truth (ranked by confidence over the whole set; evaluate.py's rule);
- AP is the area under the precision/recall curve with precision made monotone ("used
  Area-Under-Curve for each unique Recall", VOC 2010+); mAP is the mean over the model's classes;
- TP, FP, FN, precision, recall, F1 and average IoU are counted at conf_thresh 0.25, and the
  average IoU is the sum of the true positives' IoUs over TP + FP (false positives count as 0).
mAP@0.50:0.95 (COCO's IoU range) averages the same mAP over IoU 0.50, 0.55, ..., 0.95.

Detections come from gunwatch's own detector backends, so the figure is what the plugin runs.
Boxes here are (cx, cy, w, h) relative to the image, like YOLO labels; IoU does not change when
both axes are scaled, so it equals the IoU in pixels.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.loader import read_labels
from .evaluate import best_truths, cxcywh_to_xyxy, iou_matrix, pr_curves, voc_ap

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
MAP_THRESH = 0.005   # darknet map's detection threshold
MAP_NMS = 0.45       # darknet map's NMS
CONF_THRESH = 0.25   # darknet map's thresh_calc_avg_iou
# Box size as the square root of the share of the picture it covers: 0.1 is a 42-px gun in a
# 416-px frame, about what a camera across a room sees; most training pictures are close-ups.
SIZE_EDGES = (0.0, 0.1, 0.25, 0.5, float("inf"))
LOCATED_IOU = 0.1    # a detection this close to a truth is about that gun, if not on it

# One detection: (class id, confidence, (cx, cy, w, h) relative to the image).
Det = tuple[int, float, Sequence[float]]


def score_detections(detections: Sequence[Sequence[Det]], truths: Sequence[np.ndarray],
                     names: Sequence[str], conf_thresh: float = CONF_THRESH,
                     iou_thresholds: Sequence[float] = IOU_THRESHOLDS) -> dict:
    """darknet map figures for detections[i] against truths[i] ((N, 5) ``class cx cy w h``).
    The first IoU threshold is the headline one (0.50): TP/FP and the PR curve use it."""
    if len(detections) != len(truths):
        raise ValueError(f"{len(detections)} detection lists for {len(truths)} images")
    classes = len(names)
    n_truth = np.zeros(classes, np.int64)
    for i, t in enumerate(truths):
        ids = t[:, 0].astype(np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= classes):
            raise ValueError(f"image {i}: class id {int(ids.max())} in the labels, but the model "
                             f"has {classes} classes ({', '.join(names[:5])}...)")
        n_truth += np.bincount(ids, minlength=classes)
    truth_total = int(n_truth.sum())

    per_threshold: dict[float, list[tuple[float, int, int, int]]] = {t: [] for t in iou_thresholds}
    main = iou_thresholds[0]
    tp_c, fp_c = np.zeros(classes, np.int64), np.zeros(classes, np.int64)
    iou_sum, offset, n_dets = 0.0, 0, 0
    found = np.zeros(truth_total, bool)  # truths matched by a true positive at conf_thresh
    # detected / true box area of each truth's best-overlapping detection above conf_thresh:
    # above 1 the model draws loose boxes, which fail the IoU test though the gun was seen
    area_ratio = np.full(truth_total, np.nan)
    for image, (dets, truth) in enumerate(zip(detections, truths)):
        dets = sorted(dets, key=lambda d: -d[1])
        n_dets += len(dets)
        if dets:
            boxes = np.array([d[2] for d in dets], np.float64).reshape(-1, 4)
            det_cls = np.array([d[0] for d in dets])
            same = det_cls[:, None] == truth[None, :, 0].astype(np.int64)
            ious = np.where(same, iou_matrix(cxcywh_to_xyxy(boxes),
                                             cxcywh_to_xyxy(truth[:, 1:5].astype(np.float64))), 0.0)
            confident = np.array([d[1] > conf_thresh for d in dets])
            if confident.any() and len(truth):
                near = np.where(confident[:, None], ious, 0.0)
                best_det = near.argmax(0)
                seen = near.max(0) > LOCATED_IOU
                areas = boxes[best_det, 2] * boxes[best_det, 3] / (truth[:, 3] * truth[:, 4])
                area_ratio[offset:offset + len(truth)] = np.where(seen, areas, np.nan)
        for thr in iou_thresholds:
            claimed: list[int] = []  # truths of earlier (better) detections in this image
            matched = best_truths(ious, thr) if dets else []
            for k, (cls, conf, _) in enumerate(dets):
                best = int(matched[k])
                truth_index = offset + best if best >= 0 else -1
                per_threshold[thr].append((conf, cls, truth_index, image))
                if thr == main and conf > conf_thresh:
                    if truth_index >= 0 and truth_index not in claimed:
                        tp_c[cls] += 1
                        iou_sum += float(ious[k, best])
                        found[truth_index] = True
                    else:
                        fp_c[cls] += 1
                claimed.append(truth_index)
        offset += len(truth)

    aps = {thr: [voc_ap(r, p) for r, p in pr_curves(per_threshold[thr], n_truth, classes, truth_total)]
           for thr in iou_thresholds}
    curves = pr_curves(per_threshold[main], n_truth, classes, truth_total)
    tp, fp = int(tp_c.sum()), int(fp_c.sum())
    sizes = np.sqrt(np.concatenate([t[:, 3] * t[:, 4] for t in truths])) if truth_total else np.zeros(0)
    by_size = []
    for lo, hi in zip(SIZE_EDGES[:-1], SIZE_EDGES[1:]):
        inside = (sizes >= lo) & (sizes < hi)
        n = int(inside.sum())
        by_size.append({"min": lo, "max": hi if hi != float("inf") else None, "truths": n,
                        "found": int(found[inside].sum()),
                        "recall": float(found[inside].mean()) if n else None,
                        "area_ratio": float(np.nanmedian(area_ratio[inside]))
                        if np.isfinite(area_ratio[inside]).any() else None})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / truth_total if truth_total else 0.0
    return {
        "map50": float(np.mean(aps[main])) if classes else 0.0,
        "map50_95": float(np.mean([np.mean(aps[t]) for t in iou_thresholds])) if classes else 0.0,
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "tp": tp, "fp": fp, "fn": truth_total - tp,
        "avg_iou": iou_sum / (tp + fp) if tp + fp else 0.0,
        "images": len(truths), "conf_thresh": conf_thresh, "iou_thresh": main,
        "iou_thresholds": list(iou_thresholds),
        "detections_count": n_dets, "unique_truth_count": truth_total,
        "recall_by_size": by_size,
        "classes": [{"class_id": c, "name": names[c], "ap": aps[main][c],
                     "ap50_95": float(np.mean([aps[t][c] for t in iou_thresholds])),
                     "tp": int(tp_c[c]), "fp": int(fp_c[c]), "truths": int(n_truth[c]),
                     "detections": len(curves[c][0])} for c in range(classes)],
        "pr_curve": {names[c]: [[round(float(r), 5), round(float(p), 5)] for r, p in zip(*curves[c])]
                     for c in range(classes)},
    }


def format_darknet_report(result: dict) -> str:
    """The lines `darknet detector map` prints (as in the seed study), then mAP@0.50:0.95."""
    lines = [f"detections_count = {result['detections_count']}, "
             f"unique_truth_count = {result['unique_truth_count']}"]
    for c in result["classes"]:
        lines.append(f"class_id = {c['class_id']}, name = {c['name']}, ap = {c['ap'] * 100:2.2f}% "
                     f"(TP = {c['tp']}, FP = {c['fp']})")
    conf = result["conf_thresh"]
    lines += [
        "",
        f"for conf_thresh = {conf:1.2f}, precision = {result['precision']:1.2f}, "
        f"recall = {result['recall']:1.2f}, F1-score = {result['f1']:1.2f}",
        f"for conf_thresh = {conf:0.2f}, TP = {result['tp']}, FP = {result['fp']}, "
        f"FN = {result['fn']}, average IoU = {result['avg_iou'] * 100:2.2f} %",
        "",
        f"IoU threshold = {result['iou_thresh'] * 100:2.0f} %, used Area-Under-Curve for each unique Recall",
        f"mean average precision (mAP@{result['iou_thresh']:0.2f}) = {result['map50']:f}, "
        f"or {result['map50'] * 100:2.2f} %",
        f"mean average precision (mAP@0.50:0.95) = {result['map50_95']:f}, "
        f"or {result['map50_95'] * 100:2.2f} %",
    ]
    if result.get("recall_by_size"):
        parts = []
        for b in result["recall_by_size"]:
            span = f"<{b['max']:.2f}" if b["min"] == 0 else (
                f">={b['min']:.2f}" if b["max"] is None else f"{b['min']:.2f}-{b['max']:.2f}")
            share = f"{b['recall']:.2f}" if b["recall"] is not None else "-"
            parts.append(f"{span} {share} ({b['found']}/{b['truths']})")
        lines.append(f"recall at conf_thresh {conf:0.2f} by box size (sqrt of area share): " + ", ".join(parts))
        ratios = [f"{b['area_ratio']:.2f}" if b.get("area_ratio") is not None else "-"
                  for b in result["recall_by_size"]]
        lines.append(f"median detected/true box area by box size (IoU > {LOCATED_IOU}): " + ", ".join(ratios))
    return "\n".join(lines) + "\n"


def _relative(detection, names_index: dict[str, int], width: float, height: float) -> Det:
    b = detection.box
    return (names_index[detection.label], float(detection.confidence),
            ((b.x + b.w / 2) / width, (b.y + b.h / 2) / height, b.w / width, b.h / height))


@dataclass
class Collected:
    """What a model found in a set of labelled pictures, ready for `score_detections`."""

    detections: list[list[Det]]
    truths: list[np.ndarray]
    failed: list[list[str]]   # [path, reason] of pictures left out
    names: list[str]
    model: str
    backend: str
    seconds: float


def collect_detections(model_ref, images_with_labels: Sequence[tuple[Path, Path]], backend: str = "auto",
                       *, thresh: float = MAP_THRESH, nms: float = MAP_NMS, darknet_lib: str | None = None,
                       progress: bool | None = None) -> Collected:
    """Run a model through a gunwatch detector backend over (image, YOLO label) pairs.
    ``model_ref``: a loaded model, or what `--model` takes (None: the default model).
    ``progress``: None shows a bar on stderr when it is a terminal. A picture or label file
    that cannot be read is left out and listed in ``failed``."""
    from gunwatch import inputs
    from gunwatch.detectors.base import DetectorSettings
    from gunwatch.detectors.select import create_detector
    from gunwatch.model import load_model
    from gunwatch.progress import Progress

    model = load_model(model_ref)
    detector = create_detector(backend, model, DetectorSettings(confidence=thresh, nms=nms),
                               library=darknet_lib)
    names_index = {name: i for i, name in enumerate(model.names)}
    out = Collected([], [], [], list(model.names), model.name, detector.name, 0.0)
    bar = Progress(len(images_with_labels), "eval", enabled=progress)
    started = time.perf_counter()
    try:
        for image_path, label_path in images_with_labels:
            bar.advance(note=Path(image_path).name[:30])
            try:
                # Decoded as the plugin decodes snapshots (reduced when the picture is big).
                image, (sx, sy) = inputs.read_image(str(image_path), model.meta.input)
                labels = read_labels(Path(label_path))
            except ValueError as exc:
                out.failed.append([str(image_path), str(exc)])
                continue
            height, width = image.shape[0] * sy, image.shape[1] * sx
            found = [d.scaled(sx, sy) for d in detector.detect(image)]
            out.detections.append([_relative(d, names_index, width, height) for d in found])
            out.truths.append(labels)
    finally:
        bar.close()
        detector.close()
    out.seconds = round(time.perf_counter() - started, 1)
    return out


def evaluate_model(model_ref, images_with_labels: Sequence[tuple[Path, Path]], backend: str = "auto", *,
                   thresh: float = MAP_THRESH, nms: float = MAP_NMS, conf_thresh: float = CONF_THRESH,
                   darknet_lib: str | None = None, progress: bool | None = None) -> dict:
    """`collect_detections` then `score_detections`: darknet's map figures of a model on
    (image, YOLO label) pairs, plus model, backend, thresh, nms, seconds and failed."""
    got = collect_detections(model_ref, images_with_labels, backend, thresh=thresh, nms=nms,
                             darknet_lib=darknet_lib, progress=progress)
    result = score_detections(got.detections, got.truths, got.names, conf_thresh)
    result.update({"model": got.model, "backend": got.backend, "thresh": thresh, "nms": nms,
                   "seconds": got.seconds, "failed": got.failed})
    return result
