"""ctypes mirrors of darknet's public C structs, one set per API variant.

The layouts are transcribed from the C headers (field order and types; sizes assume LP64):

pjreddie/darknet include/darknet.h (Debian package 0.0.0+git20180914.61c9d02e):

    typedef struct { int w; int h; int c; float *data; } image;           // 24 bytes
    typedef struct { float x, y, w, h; } box;                               // 16 bytes
    typedef struct detection {                                              // 48 bytes
        box bbox; int classes; float *prob; float *mask;
        float objectness; int sort_class;
    } detection;

AlexeyAB/darknet include/darknet.h (the usual CUDA builds; hank-ai keeps the same struct for its
V2 C API):

    typedef struct detection {                                              // 88 bytes
        box bbox; int classes; int best_class_idx; float *prob; float *mask;
        float objectness; int sort_class; float *uc; int points;
        float *embeddings; int embedding_size; float sim; int track_id;
    } detection;

`image` and `box` are the same in both. Using the wrong `detection` layout does not crash at
once: it walks the array with the wrong stride and reads garbage, so the variant must be known
before the first call (see library.py).
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_float, c_int


class Box(ctypes.Structure):
    _fields_ = [("x", c_float), ("y", c_float), ("w", c_float), ("h", c_float)]


class Image(ctypes.Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", POINTER(c_float))]


class DetectionPjreddie(ctypes.Structure):
    _fields_ = [
        ("bbox", Box),
        ("classes", c_int),
        ("prob", POINTER(c_float)),
        ("mask", POINTER(c_float)),
        ("objectness", c_float),
        ("sort_class", c_int),
    ]


class DetectionAlexeyAB(ctypes.Structure):
    _fields_ = [
        ("bbox", Box),
        ("classes", c_int),
        ("best_class_idx", c_int),
        ("prob", POINTER(c_float)),
        ("mask", POINTER(c_float)),
        ("objectness", c_float),
        ("sort_class", c_int),
        ("uc", POINTER(c_float)),
        ("points", c_int),
        ("embeddings", POINTER(c_float)),
        ("embedding_size", c_int),
        ("sim", c_float),
        ("track_id", c_int),
    ]
