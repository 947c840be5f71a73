"""Detection data: YOLO labels, augmentation and batching (numpy + OpenCV)."""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...darknet.files import label_path


def labelled(images: list[Path]) -> list[tuple[Path, Path]]:
    """(image, label file) pairs by gunwatch's one label-path rule."""
    return [(image, label_path(image)) for image in images]


def read_labels(path: Path) -> np.ndarray:
    """(N, 5) float32 rows ``class cx cy w h``; an absent or empty file is no boxes."""
    if not path.exists():
        return np.zeros((0, 5), np.float32)
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    arr = np.array(rows, dtype=np.float32).reshape(-1, 5)
    return arr


def load_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 HxWx3, plainly resized to ``size`` (w, h) if needed (no letterbox)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"{path}: cannot decode image")
    if (img.shape[1], img.shape[0]) != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def clip_boxes(classes: np.ndarray, corners: tuple[np.ndarray, ...], window: tuple[float, ...],
               min_side: float, min_visible: float) -> np.ndarray:
    """Boxes (x1, y1, x2, y2 arrays) cut to ``window`` (x1, y1, x2, y2, same units) as
    ``class cx cy w h`` rows; a box is dropped when a side falls under ``min_side`` or less than
    ``min_visible`` of its area stays inside."""
    x1, y1, x2, y2 = corners
    cx1, cx2 = np.clip(x1, window[0], window[2]), np.clip(x2, window[0], window[2])
    cy1, cy2 = np.clip(y1, window[1], window[3]), np.clip(y2, window[1], window[3])
    bw, bh = cx2 - cx1, cy2 - cy1
    keep = (bw >= min_side) & (bh >= min_side) & (bw * bh >= min_visible * (x2 - x1) * (y2 - y1))
    return np.stack([classes, (cx1 + cx2) / 2, (cy1 + cy2) / 2, bw, bh], 1)[keep]


def hidden_cut(labels: np.ndarray, patch: tuple[float, float, float, float], min_visible: float) -> np.ndarray:
    """``labels`` (class cx cy w h, normalised) behind an opaque ``patch`` (x1, y1, x2, y2,
    normalised): a box with less than ``min_visible`` of its area left in view is dropped; a box
    the patch covers across its whole height (or width) loses that strip; one with a corner or
    a hole hidden keeps its box, as a partly hidden object is labelled."""
    if not len(labels):
        return labels
    px1, py1, px2, py2 = patch
    x1, x2 = labels[:, 1] - labels[:, 3] / 2, labels[:, 1] + labels[:, 3] / 2
    y1, y2 = labels[:, 2] - labels[:, 4] / 2, labels[:, 2] + labels[:, 4] / 2
    ix = np.clip(np.minimum(x2, px2) - np.maximum(x1, px1), 0, None)
    iy = np.clip(np.minimum(y2, py2) - np.maximum(y1, py1), 0, None)
    area = (x2 - x1) * (y2 - y1)
    keep = area - ix * iy >= min_visible * area
    spans_y, spans_x = (py1 <= y1) & (py2 >= y2) & (ix > 0), (px1 <= x1) & (px2 >= x2) & (iy > 0)
    # a strip across the box hides one side when it reaches past that side's edge
    x1 = np.where(spans_y & (px1 <= x1), np.maximum(x1, px2), x1)
    x2 = np.where(spans_y & (px2 >= x2), np.minimum(x2, px1), x2)
    y1 = np.where(spans_x & (py1 <= y1), np.maximum(y1, py2), y1)
    y2 = np.where(spans_x & (py2 >= y2), np.minimum(y2, py1), y2)
    out = np.stack([labels[:, 0], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
    return out[keep & (x2 > x1) & (y2 > y1)].astype(np.float32)


@dataclass
class Augment:
    """darknet-like augmentation. jitter: each crop edge moves by up to jitter*size (this scales,
    translates and changes the aspect at once); hue as a fraction of the colour circle,
    saturation/exposure as max factors."""

    jitter: float = 0.2
    flip: bool = True
    hue: float = 0.05
    saturation: float = 1.5
    exposure: float = 1.5
    min_visible: float = 0.3  # drop a box if less than this share of it stays in the frame

    def __call__(self, img: np.ndarray, labels: np.ndarray, rng: random.Random,
                 out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        h, w = img.shape[:2]
        ow, oh = out_size
        dw, dh = self.jitter * w, self.jitter * h
        left, right = rng.uniform(-dw, dw), rng.uniform(-dw, dw)
        top, bottom = rng.uniform(-dh, dh), rng.uniform(-dh, dh)
        cw, ch = w - left - right, h - top - bottom  # crop size in source pixels
        sx, sy = ow / cw, oh / ch
        flip = self.flip and rng.random() < 0.5
        if flip:
            m = np.array([[-sx, 0, (w - right) * sx], [0, sy, -top * sy]], np.float32)
        else:
            m = np.array([[sx, 0, -left * sx], [0, sy, -top * sy]], np.float32)
        out = cv2.warpAffine(img, m, (ow, oh), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(127, 127, 127))
        out = self._hsv(out, rng)
        if len(labels) == 0:
            return out, labels
        x1 = (labels[:, 1] - labels[:, 3] / 2) * w
        x2 = (labels[:, 1] + labels[:, 3] / 2) * w
        y1 = (labels[:, 2] - labels[:, 4] / 2) * h
        y2 = (labels[:, 2] + labels[:, 4] / 2) * h
        nx1, nx2 = (x1 - left) * sx / ow, (x2 - left) * sx / ow
        ny1, ny2 = (y1 - top) * sy / oh, (y2 - top) * sy / oh
        if flip:
            nx1, nx2 = 1 - nx2, 1 - nx1
        new = clip_boxes(labels[:, 0], (nx1, ny1, nx2, ny2), (0.0, 0.0, 1.0, 1.0), 0.005, self.min_visible)
        return out, new.astype(np.float32)

    def _hsv(self, img: np.ndarray, rng: random.Random) -> np.ndarray:
        def factor(m: float) -> float:
            f = rng.uniform(1, m)
            return f if rng.random() < 0.5 else 1 / f
        dh = rng.uniform(-self.hue, self.hue)
        ds, dv = factor(self.saturation), factor(self.exposure)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        x = np.arange(256, dtype=np.float32)
        lut_h = ((x + dh * 180) % 180).astype(np.uint8)
        lut_s = np.clip(x * ds, 0, 255).astype(np.uint8)
        lut_v = np.clip(x * dv, 0, 255).astype(np.uint8)
        hsv = cv2.merge([cv2.LUT(hsv[..., 0], lut_h), cv2.LUT(hsv[..., 1], lut_s),
                         cv2.LUT(hsv[..., 2], lut_v)])
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class DetectionData:
    """Image/label pairs; batch() returns uint8 NHWC images and (T, 6) targets
    ``image_index, class, cx, cy, w, h``."""

    def __init__(self, pairs: list[tuple[Path, Path]], size: tuple[int, int],
                 augment: Augment | None = None, cache: bool = False, mosaic: float = 0.0,
                 zoom_out: float = 0.0) -> None:
        if not pairs:
            raise ValueError("no images in the list")
        if not 0.0 <= mosaic + zoom_out <= 1.0:
            raise ValueError(f"mosaic {mosaic} and zoom-out {zoom_out} are shares of the pictures: "
                             "each at least 0, together at most 1")
        self.pairs = pairs
        self.size = size
        self.augment = augment
        self.mosaic = mosaic  # share of training items built as a 4-picture mosaic
        self.zoom_out = zoom_out  # share of training items shrunk onto another picture
        self.labels = [read_labels(lbl) for _, lbl in pairs]
        self.gun_free = [k for k, lab in enumerate(self.labels) if not len(lab)]
        self._cache: dict[int, np.ndarray] = {}
        self.cache = cache

    def __len__(self) -> int:
        return len(self.pairs)

    def image(self, i: int) -> np.ndarray:
        if i in self._cache:
            return self._cache[i]
        img = load_image(self.pairs[i][0], self.size)
        if self.cache:
            self._cache[i] = img
        return img

    def item(self, i: int, rng: random.Random | None = None) -> tuple[np.ndarray, np.ndarray]:
        img, lab = self.image(i), self.labels[i]
        if self.augment is not None and rng is not None:
            # no draw when neither is asked for: plain runs keep the stream they always had
            draw = rng.random() if self.mosaic or self.zoom_out else 1.0
            if draw < self.mosaic:
                return self.mosaic_item(i, rng)
            if draw < self.mosaic + self.zoom_out:
                return self.zoom_out_item(i, rng)
            img, lab = self.augment(img, lab, rng, self.size)
        return img, lab

    def zoom_out_item(self, i: int, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
        """Picture i shrunk to 0.15-0.6 of the canvas side and placed at random on another
        picture of the list (a gun-free one half of the time when the list has any). Cameras see
        guns at 15-120 pixels of a frame; the data set's close-ups fill most of theirs. The
        background's own boxes that the pasted picture hides are cut or dropped by the rule of
        crops (min_visible)."""
        w, h = self.size
        if self.gun_free and rng.random() < 0.5:
            other = rng.choice(self.gun_free)
        else:
            other = rng.randrange(len(self))
        canvas, back = self.augment(self.image(other), self.labels[other], rng, self.size)
        canvas = canvas.copy()
        scale = rng.uniform(0.15, 0.6)
        pw, ph = max(1, round(w * scale)), max(1, round(h * scale))
        small, lab = self.augment(self.image(i), self.labels[i], rng, (pw, ph))
        x0, y0 = rng.randrange(w - pw + 1), rng.randrange(h - ph + 1)
        canvas[y0:y0 + ph, x0:x0 + pw] = small
        rows = [hidden_cut(back, (x0 / w, y0 / h, (x0 + pw) / w, (y0 + ph) / h), self.augment.min_visible)]
        if len(lab):
            x1 = x0 + (lab[:, 1] - lab[:, 3] / 2) * pw
            x2 = x0 + (lab[:, 1] + lab[:, 3] / 2) * pw
            y1 = y0 + (lab[:, 2] - lab[:, 4] / 2) * ph
            y2 = y0 + (lab[:, 2] + lab[:, 4] / 2) * ph
            kept = clip_boxes(lab[:, 0], (x1, y1, x2, y2), (x0, y0, x0 + pw, y0 + ph), 2.0, 0.0)
            rows.append(kept / np.array([1, w, h, w, h], np.float64))
        return canvas, np.concatenate(rows).astype(np.float32)

    def mosaic_item(self, i: int, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
        """Picture i and three random others, each augmented and scaled to about the size of one
        of the four quadrants around a random centre (AlexeyAB's mosaic=1, YOLOv4). Objects come
        out at 0.3-0.9 of their usual size: the small and far guns a camera sees, which a data
        set of close-ups has few of."""
        w, h = self.size
        xc, yc = int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h)
        canvas = np.full((h, w, 3), 127, np.uint8)
        rows = []
        quadrants = [(0, 0, xc, yc), (xc, 0, w, yc), (0, yc, xc, h), (xc, yc, w, h)]
        picks = [i] + [rng.randrange(len(self)) for _ in range(3)]
        for k, (qx1, qy1, qx2, qy2) in zip(picks, quadrants):
            side = int(max(qx2 - qx1, qy2 - qy1) * rng.uniform(1.0, 1.3))
            img, lab = self.augment(self.image(k), self.labels[k], rng, (side, side))
            # the picture's corner sits on the centre, the rest is cut at the quadrant's edges
            ox = xc - side if qx1 == 0 else xc
            oy = yc - side if qy1 == 0 else yc
            canvas[qy1:qy2, qx1:qx2] = img[qy1 - oy:qy2 - oy, qx1 - ox:qx2 - ox]
            if not len(lab):
                continue
            x1 = ox + (lab[:, 1] - lab[:, 3] / 2) * side
            x2 = ox + (lab[:, 1] + lab[:, 3] / 2) * side
            y1 = oy + (lab[:, 2] - lab[:, 4] / 2) * side
            y2 = oy + (lab[:, 2] + lab[:, 4] / 2) * side
            kept = clip_boxes(lab[:, 0], (x1, y1, x2, y2), (qx1, qy1, qx2, qy2), 3.0,
                              self.augment.min_visible)
            rows.append(kept / np.array([1, w, h, w, h], np.float64))
        labels = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 5), np.float32)
        return canvas, labels

    def batch(self, indices: list[int], rng: random.Random | None = None,
              map_fn: Callable[..., Iterator] = map) -> tuple[np.ndarray, np.ndarray]:
        """The pictures ``indices`` as one batch. ``map_fn`` may be a thread pool's map: each
        picture draws from its own generator, seeded in order from ``rng``, so a batch comes out
        the same however many threads build it (OpenCV releases the GIL while it decodes)."""
        rngs = [random.Random(rng.getrandbits(64)) if rng else None for _ in indices]
        imgs, rows = [], []
        for k, (img, lab) in enumerate(map_fn(self.item, indices, rngs)):
            imgs.append(img)
            if len(lab):
                rows.append(np.concatenate([np.full((len(lab), 1), k, np.float32), lab], 1))
        targets = np.concatenate(rows) if rows else np.zeros((0, 6), np.float32)
        return np.stack(imgs), targets
