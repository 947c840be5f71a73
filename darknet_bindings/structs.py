"""ctypes mirrors of darknet's public C structs, one per API variant and era.

Transcribed from the C headers (field order and types; sizes are for LP64, x86_64/aarch64):

pjreddie/darknet include/darknet.h @ f6afaab (= Debian 0.0.0+git20180914.61c9d02e):

    typedef struct { int w; int h; int c; float *data; } image;           // 24 bytes
    typedef struct { float x, y, w, h; } box;                               // 16 bytes
    typedef struct detection {                                              // 48 bytes
        box bbox; int classes; float *prob; float *mask;
        float objectness; int sort_class;
    } detection;

AlexeyAB/darknet include/darknet.h grew `detection` at the end, era by era:
    b3a2495 2019-10-25  + float *uc;                                        // 56 bytes
    8cb3ee4 2019-11-23  + int points;                                       // 64 bytes
    2fca3c3 2020-07-07  + float *embeddings;                                // 72 bytes
    ccb392d 2020-07-07  + int embedding_size; float sim; int track_id;     // 88 bytes
    9ff8653 2021-08-25  int best_class_idx after classes, in old padding   // still 88
hank-ai/darknet src-lib/darknet.h (DarknetDetection) @ 70f5b3c 2025-12-02 (v6.0, master 5.1.60+),
and still so in Darknet V5 "Moonlit" @ f684e1d (2026-06-27):
    float sort_score; inserted after sort_class                             // 96 bytes

bbox, classes, prob and objectness sit at the same offsets in every era; what differs is the
size, i.e. the stride of the array get_network_boxes returns. A wrong size does not crash at
once: it reads garbage from the second detection on, so the era is guessed from the library's
symbols (variants.py) and then measured on the first network it loads (fitting_layout).
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_float, c_int


class Box(ctypes.Structure):
    _fields_ = [("x", c_float), ("y", c_float), ("w", c_float), ("h", c_float)]


class Image(ctypes.Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", POINTER(c_float))]


_BASE = [("bbox", Box), ("classes", c_int)]
_AFTER_CLASSES = [("prob", POINTER(c_float)), ("mask", POINTER(c_float)),
                  ("objectness", c_float), ("sort_class", c_int)]
_AB_TAIL = [("uc", POINTER(c_float)), ("points", c_int), ("embeddings", POINTER(c_float)),
            ("embedding_size", c_int), ("sim", c_float), ("track_id", c_int)]


class DetectionPjreddie(ctypes.Structure):
    _fields_ = _BASE + _AFTER_CLASSES


class DetectionAlexeyAB2019Uc(ctypes.Structure):
    _fields_ = _BASE + _AFTER_CLASSES + _AB_TAIL[:1]


class DetectionAlexeyAB2019Points(ctypes.Structure):
    _fields_ = _BASE + _AFTER_CLASSES + _AB_TAIL[:2]


class DetectionAlexeyAB2020Embeddings(ctypes.Structure):
    _fields_ = _BASE + _AFTER_CLASSES + _AB_TAIL[:3]


class DetectionAlexeyAB(ctypes.Structure):
    """AlexeyAB HEAD and hank-ai up to v5.1.59."""

    _fields_ = _BASE + [("best_class_idx", c_int)] + _AFTER_CLASSES + _AB_TAIL


class DetectionHankAI(ctypes.Structure):
    """hank-ai v6 and master from 5.1.60 on."""

    _fields_ = (_BASE + [("best_class_idx", c_int)] + _AFTER_CLASSES + [("sort_score", c_float)]
                + _AB_TAIL)


LAYOUTS = (DetectionPjreddie, DetectionAlexeyAB2019Uc, DetectionAlexeyAB2019Points,
           DetectionAlexeyAB2020Embeddings, DetectionAlexeyAB, DetectionHankAI)
# Enough detections to tell every layout apart without reading past the array: PROBED entries at
# the largest stride stay inside MIN_DETECTIONS entries of the smallest.
PROBED = 8
MIN_DETECTIONS = -(-(PROBED + 1) * ctypes.sizeof(DetectionHankAI) // ctypes.sizeof(DetectionPjreddie))


def fitting_layout(address: int, count: int, classes: int,
                   candidates: tuple[type[ctypes.Structure], ...]) -> type[ctypes.Structure] | None:
    """The first candidate whose stride reads a plausible detection at every probed index of an
    array of `count` detections at `address` (as get_network_boxes returns it, every box of a
    network with `classes` classes); None when none does.

    A wrong stride reads a float or a pointer where `classes` should be, so one wrong stride
    cannot pass eight entries, while the right one always does.
    """
    if count < MIN_DETECTIONS:
        raise ValueError(f"{count} detections are too few to tell the layout ({MIN_DETECTIONS} needed)")
    raw = ctypes.string_at(address, count * ctypes.sizeof(DetectionPjreddie))
    for struct in candidates:
        stride = ctypes.sizeof(struct)
        entries = [struct.from_buffer_copy(raw, i * stride) for i in range(PROBED)]
        if all(e.classes == classes and e.prob and 0.0 <= e.objectness <= 1.0 for e in entries):
            return struct
    return None
