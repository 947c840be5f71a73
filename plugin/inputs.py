"""Offline inputs for `gunwatch detect` and `gunwatch bench`: images, folders, videos, streams.

Each PATH expands to frames; an input that cannot be read yields one failure and the run goes
on with the next input.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .decode import decode_for_detection, read_picture
from .model import InputSpec

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".ts", ".mjpeg", ".mjpg", ".h264", ".h265"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class InputFrame:
    source: str           # the file, URL or device as given (files inside folders: their path)
    index: int            # frame number within the source (0 for images)
    image: np.ndarray
    relative: Path        # where annotated output goes, relative to --out
    scale: tuple[float, float] = (1.0, 1.0)  # image pixels -> original pixels (reduced decode)


@dataclass
class InputFailure:
    source: str
    reason: str


def is_stream(ref: str) -> bool:
    return ref.startswith(STREAM_SCHEMES) or ref.isdigit() or ref.startswith("/dev/video")


def expand(refs: list[str]) -> list[tuple[str, Path]]:
    """Inputs in processing order, each with its output path relative to --out."""
    items: list[tuple[str, Path]] = []
    for ref in refs:
        path = Path(ref)
        if not is_stream(ref) and path.is_dir():
            files = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            items.extend((str(p), p.relative_to(path)) for p in files)
        elif is_stream(ref):
            safe = "".join(c if c.isalnum() else "_" for c in ref)[:80]
            items.append((ref, Path(safe)))
        else:
            items.append((ref, Path(path.name)))
    return items


def read_image(path: str, reduce_for: InputSpec | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Decode an image file, at reduced resolution when `reduce_for` allows (see decode.py);
    returns the image and its scale to original pixels. Raises ValueError with a reason an
    admin can act on."""
    if not os.path.lexists(path):
        raise ValueError("no such file")
    if not os.access(path, os.R_OK) and not os.path.islink(path):
        raise ValueError("permission denied")
    try:
        data = read_picture(Path(path))  # a FIFO or a device is refused, not read forever
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    if not data:
        raise ValueError("empty file")
    image, sx, sy = decode_for_detection(data, reduce_for)
    if image is None:
        raise ValueError("not a readable image (corrupt or unsupported format)")
    return image, (sx, sy)


def frames(ref: str, relative: Path, stride: int = 1, max_frames: int | None = None,
           reduce_for: InputSpec | None = None) -> Iterator[InputFrame | InputFailure]:
    """Frames of one input: one for an image, every `stride`-th for a video or stream.
    `reduce_for`: decode still images only as large as this network input needs."""
    suffix = Path(ref).suffix.lower()
    if not is_stream(ref) and suffix not in VIDEO_SUFFIXES:
        try:
            image, scale = read_image(ref, reduce_for)
            yield InputFrame(ref, 0, image, relative, scale)
            return
        except ValueError as exc:
            if suffix in IMAGE_SUFFIXES or not os.path.isfile(ref):
                yield InputFailure(ref, str(exc))
                return
            # unknown extension: it may still be a video container
    capture = cv2.VideoCapture(int(ref) if ref.isdigit() else ref)
    try:
        if not capture.isOpened():
            yield InputFailure(ref, "cannot open as image, video or stream")
            return
        index = produced = 0
        while max_frames is None or produced < max_frames:
            ok, image = capture.read()
            if not ok:
                if index == 0:
                    yield InputFailure(ref, "opened, but no frame could be decoded")
                break
            if index % stride == 0:
                yield InputFrame(ref, index, image, relative)
                produced += 1
            index += 1
    finally:
        capture.release()
