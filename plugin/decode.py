"""Decode JPEG frames at the smallest resolution the detector can use.

libjpeg can decode at 1/2, 1/4 or 1/8 scale inside the inverse DCT (cv2.IMREAD_REDUCED_*),
which costs a fraction of a full decode. The network sees a 416-pixel input, so a 1080p
snapshot needs only a quarter of its pixels. gunwatch keeps twice the network's resolution
(1/2 scale for 1080p, 1/4 for 4K): the last bilinear resize then averages 2x2 pixels, as it does
from a full decode; going down to the network's own size moved yolov3-tiny's scores by up to
0.2 in tests/integration/test_reduced_decode.py. Boxes found on the reduced
image are scaled back to the original's pixels by the caller (Detection.scaled).
"""

from __future__ import annotations

import cv2
import numpy as np

from .detectors.base import placement
from .model import InputSpec

_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}
# Start-of-frame markers of baseline, progressive and lossless JPEG (not DHT 0xC4, JPG 0xC8,
# DAC 0xCC, which share the range).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame header, None if not a readable JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i, end = 2, len(data)
    while i + 9 < end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker in _SOF_MARKERS:
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def reduction_for(width: int, height: int, spec: InputSpec) -> int:
    """Largest libjpeg scale divisor that leaves at least twice the network's resolution."""
    t = placement(width, height, spec)
    room = min(width / t.placed_w, height / t.placed_h)
    return next((f for f in (8, 4, 2) if f <= room / 2), 1)


def decode_for_detection(data: bytes, spec: InputSpec | None) -> tuple[np.ndarray | None, float, float]:
    """Decode `data`; returns (image, sx, sy): multiply box x/w by sx and y/h by sy to get the
    original image's pixels. image is None when the data is not a decodable image.

    spec None decodes at full resolution: the region stage crops persons and tiles out of the
    frame, and a crop cut from a reduced picture has lost the small gun it was cut for."""
    buffer = np.frombuffer(data, np.uint8)
    size = jpeg_size(data)
    factor = reduction_for(*size, spec) if size and spec is not None else 1
    if factor == 1:
        return cv2.imdecode(buffer, cv2.IMREAD_COLOR), 1.0, 1.0
    image = cv2.imdecode(buffer, _REDUCED_FLAGS[factor])
    if image is None:
        return None, 1.0, 1.0
    width, height = size
    if abs(image.shape[1] - width / factor) > 1:  # EXIF orientation turned it by 90 degrees
        width, height = height, width
    return image, width / image.shape[1], height / image.shape[0]
