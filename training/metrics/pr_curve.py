"""Precision/recall chart of an evaluation as a PNG, drawn with OpenCV (no plotting library)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

COLOURS = [(200, 90, 30), (40, 40, 220), (40, 160, 40), (160, 40, 160), (30, 160, 200), (90, 90, 90)]


def draw_pr_curve(result: dict, path: str | Path, size: tuple[int, int] = (720, 540)) -> Path:
    """One line per class (precision at each rank against recall) from `score_detections`'s
    ``pr_curve``, the AP in the legend, and the conf_thresh operating point as a dot."""
    width, height = size
    left, right, top, bottom = 70, 20, 40, 60
    img = np.full((height, width, 3), 255, np.uint8)
    pw, ph = width - left - right, height - top - bottom

    def at(recall: float, precision: float) -> tuple[int, int]:
        return int(left + recall * pw), int(top + (1 - precision) * ph)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for tick in np.linspace(0, 1, 6):
        x, y = at(tick, tick)
        cv2.line(img, (x, top), (x, top + ph), (230, 230, 230), 1)
        cv2.line(img, (left, y), (left + pw, y), (230, 230, 230), 1)
        cv2.putText(img, f"{tick:.1f}", (x - 12, top + ph + 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, f"{tick:.1f}", (left - 35, y + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    cv2.putText(img, "recall", (left + pw // 2 - 25, height - 15), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "precision", (5, top - 12), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    title = (f"{result.get('model', '')}  IoU {result['iou_thresh']:.2f}  "
             f"mAP {result['map50'] * 100:.2f} %  ({result['images']} images)")
    cv2.putText(img, title, (left + 80, top - 12), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)

    drawn = [c for c in result["classes"] if c["truths"] or c["detections"]]
    for k, cls in enumerate(drawn):
        colour = COLOURS[k % len(COLOURS)]
        points = result["pr_curve"][cls["name"]]
        if points:
            line = np.array([at(r, p) for r, p in points], np.int32).reshape(-1, 1, 2)
            cv2.polylines(img, [line], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, f"{cls['name']}: AP {cls['ap'] * 100:.2f} %", (left + pw - 200, top + 25 + 20 * k),
                    font, 0.5, colour, 1, cv2.LINE_AA)
    point = at(result["recall"], result["precision"])
    cv2.circle(img, point, 6, (0, 0, 0), -1, cv2.LINE_AA)
    cv2.putText(img, f"conf {result['conf_thresh']:.2f}", (point[0] + 8, point[1] - 8), font, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"{path}: cannot write the PR curve (is the suffix .png?)")
    return path
