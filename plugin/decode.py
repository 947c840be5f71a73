"""Decode JPEG frames at the smallest resolution the detector can use.

libjpeg can decode at 1/2, 1/4 or 1/8 scale inside the inverse DCT (cv2.IMREAD_REDUCED_*),
which costs a fraction of a full decode. The network sees a 416-pixel input, so a 1080p
snapshot needs only a quarter of its pixels. gunwatch keeps twice the network's resolution
(1/2 scale for 1080p, 1/4 for 4K): the last bilinear resize then averages 2x2 pixels, as it does
from a full decode; going down to the network's own size moved yolov3-tiny's scores by up to
0.2 in tests/integration/test_reduced_decode.py. Boxes found on the reduced
image are scaled back to the original's pixels by the caller (Detection.scaled).

Pictures come from cameras and recorders, which are not trusted: the size a JPEG or PNG header
claims is checked before anything is decoded (a 2.6 MB PNG can claim 30000x30000 pixels, 2.7 GB
once decoded), and a degenerate shape (a side under MIN_SIDE pixels, or longer than MAX_ASPECT
times the other) is refused rather than scaled to a zero-pixel network input.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import cv2
import numpy as np

from .detectors.base import placement
from .model import InputSpec

_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}
# Start-of-frame markers of baseline, progressive and lossless JPEG (not DHT 0xC4, JPG 0xC8,
# DAC 0xCC, which share the range).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# 8K video is 33 megapixels and the largest still cameras about 100: 120 MP (360 MB decoded)
# leaves room for both while a forged header cannot take gigabytes.
DEFAULT_MAX_PIXELS = 120_000_000
MIN_SIDE = 2
MAX_ASPECT = 50.0
# A picture file larger than this is not a camera snapshot (a 120 MP JPEG is ~40 MB).
MAX_FILE_BYTES = 256 * 1024 * 1024


class ImageRefused(ValueError):
    """A picture gunwatch will not decode: its message says why and what would be accepted."""


def read_picture(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a picture file. Only regular files are read: a FIFO named .jpg would block the
    reader forever and a device never ends; a symbolic link loop is named as such."""
    try:
        # O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageRefused(f"{path}: symbolic link loop (the link points back at itself); "
                               "remove or fix the link") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ImageRefused(f"{path}: not a regular file (a FIFO, device or socket); only "
                               "picture files are read")
        if info.st_size > max_bytes:
            raise ImageRefused(f"{path}: {info.st_size} bytes, more than the {max_bytes} a picture "
                               "may have")
        return fh.read(max_bytes + 1)


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, None if not a PNG."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_size(width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse a picture size the detector cannot use or the machine cannot afford."""
    if min(width, height) < MIN_SIDE:
        raise ImageRefused(f"{width}x{height} pixels: a side under {MIN_SIDE} pixels is not a "
                           "camera picture")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRefused(f"{width}x{height} pixels: more than {MAX_ASPECT:.0f} times as wide as "
                           "high (or the reverse) is not a camera picture")
    if width * height > max_pixels:
        raise ImageRefused(f"{width}x{height} pixels ({width * height / 1e6:.0f} MP) is more than "
                           f"max_pixels ({max_pixels / 1e6:.0f} MP); raise max_pixels if the camera "
                           "really takes such pictures")


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


def decode_for_detection(data: bytes, spec: InputSpec | None,
                         max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray | None, float, float]:
    """Decode `data`; returns (image, sx, sy): multiply box x/w by sx and y/h by sy to get the
    original image's pixels. image is None when the data is not a decodable image; raises
    ImageRefused when its size is refused (see check_size).

    spec None decodes at full resolution: the region stage crops persons and tiles out of the
    frame, and a crop cut from a reduced picture has lost the small gun it was cut for."""
    buffer = np.frombuffer(data, np.uint8)
    size = jpeg_size(data)
    claimed = size or png_size(data)
    if claimed:
        check_size(*claimed, max_pixels)
    factor = reduction_for(*size, spec) if size and spec is not None else 1
    if factor == 1:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        if image is not None:  # formats without a header read above (BMP, WebP, TIFF)
            check_size(image.shape[1], image.shape[0], max_pixels)
        return image, 1.0, 1.0
    image = cv2.imdecode(buffer, _REDUCED_FLAGS[factor])
    if image is None:
        return None, 1.0, 1.0
    width, height = size
    if abs(image.shape[1] - width / factor) > 1:  # EXIF orientation turned it by 90 degrees
        width, height = height, width
    return image, width / image.shape[1], height / image.shape[0]
