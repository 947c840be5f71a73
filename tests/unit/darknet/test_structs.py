"""The ctypes structs must match the C layouts byte for byte (sizes/offsets from the headers,
checked with gcc's sizeof/offsetof on x86_64)."""

import ctypes

import pytest

from gunwatch.darknet import structs


def offsets(struct):
    return {name: getattr(struct, name).offset for name, _ in struct._fields_}


def test_box_and_image():
    assert ctypes.sizeof(structs.Box) == 16
    assert ctypes.sizeof(structs.Image) == 24
    assert offsets(structs.Image) == {"w": 0, "h": 4, "c": 8, "data": 16}


COMMON = {"bbox": 0, "classes": 16, "prob": 24, "mask": 32, "objectness": 40, "sort_class": 44}


@pytest.mark.parametrize("struct, size, extra", [
    (structs.DetectionPjreddie, 48, {}),
    (structs.DetectionAlexeyAB2019Uc, 56, {"uc": 48}),
    (structs.DetectionAlexeyAB2019Points, 64, {"uc": 48, "points": 56}),
    (structs.DetectionAlexeyAB2020Embeddings, 72, {"uc": 48, "points": 56, "embeddings": 64}),
    (structs.DetectionAlexeyAB, 88, {"best_class_idx": 20, "uc": 48, "points": 56, "embeddings": 64,
                                     "embedding_size": 72, "sim": 76, "track_id": 80}),
    (structs.DetectionHankAI, 96, {"best_class_idx": 20, "sort_score": 48, "uc": 56, "points": 64,
                                   "embeddings": 72, "embedding_size": 80, "sim": 84, "track_id": 88}),
])
def test_detection_layouts(struct, size, extra):
    assert ctypes.sizeof(struct) == size
    assert offsets(struct) == {**COMMON, **extra}
