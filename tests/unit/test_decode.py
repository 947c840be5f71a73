"""Reduced JPEG decoding: header parsing, the scale chosen, and boxes mapped back."""

import struct

import cv2
import numpy as np
import pytest

from gunwatch.decode import decode_for_detection, jpeg_size, reduction_for
from gunwatch.model import InputSpec


def jpeg(width, height, progressive=False):
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    return data.tobytes()


def with_exif_orientation(data: bytes, orientation: int) -> bytes:
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_size(progressive):
    assert jpeg_size(jpeg(1920, 1080, progressive)) == (1920, 1080)


def test_jpeg_size_not_a_jpeg():
    ok, png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    assert jpeg_size(png.tobytes()) is None
    assert jpeg_size(b"\xff\xd8garbage") is None
    assert jpeg_size(b"") is None


def test_reduction_for():
    letterbox, stretch = InputSpec(), InputSpec(letterbox=False)
    assert reduction_for(1920, 1080, letterbox) == 2   # 960x540 >= 2 x 416x234
    assert reduction_for(1920, 1080, stretch) == 1     # 540 rows < 2 x 416
    assert reduction_for(3840, 2160, letterbox) == 4
    assert reduction_for(3840, 2160, stretch) == 2
    assert reduction_for(640, 480, letterbox) == 1
    assert reduction_for(416, 416, letterbox) == 1


def test_decode_scale_maps_back_to_original_pixels():
    image, sx, sy = decode_for_detection(jpeg(1920, 1080), InputSpec())
    assert image.shape == (540, 960, 3) and (sx, sy) == (2.0, 2.0)


def test_decode_follows_exif_rotation():
    image, sx, sy = decode_for_detection(with_exif_orientation(jpeg(1920, 1080), 6), InputSpec())
    assert image.shape == (960, 540, 3)  # portrait after rotation, as OpenCV shows it
    assert (sx, sy) == (2.0, 2.0)
    full = cv2.imdecode(np.frombuffer(with_exif_orientation(jpeg(1920, 1080), 6), np.uint8), cv2.IMREAD_COLOR)
    assert full.shape == (1920, 1080, 3)


def test_decode_png_and_garbage():
    ok, png = cv2.imencode(".png", np.zeros((600, 800, 3), np.uint8))
    image, sx, sy = decode_for_detection(png.tobytes(), InputSpec())
    assert image.shape == (600, 800, 3) and (sx, sy) == (1.0, 1.0)
    assert decode_for_detection(jpeg(1920, 1080)[:300], InputSpec())[0] is None
