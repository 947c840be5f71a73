"""Hostile and broken inputs, generated at run time (no bombs in the repository): what a careless
camera or a malicious publisher may hand gunwatch."""

from __future__ import annotations

import functools
import struct
import zlib

import cv2
import numpy as np


def encoded(suffix: str, width: int, height: int) -> bytes:
    """A real picture of that size (noise, so the encoder cannot cheat)."""
    image = np.random.default_rng(width * 7 + height).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return cv2.imencode(suffix, image)[1].tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=4)
def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of `width` x `height` black pixels: a few MB that decode to width*height*3.
    One band of rows is deflated once, with a full flush (no back-references across it), and
    repeated; the zlib stream's checksum covers every row."""
    row = b"\0" * (width * 3 + 1)
    band_rows = max(1, min(height, 1000))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    band = compressor.compress(row * band_rows) + compressor.flush(zlib.Z_FULL_FLUSH)
    bands, rest = divmod(height, band_rows)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(row * rest) + tail.flush()
    checksum = 1
    for _ in range(bands):
        checksum = zlib.adler32(row * band_rows, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    body = b"\x78\xda" + band * bands + last + struct.pack(">I", checksum)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose start-of-frame header claims another size."""
    data = bytearray(encoded(".jpg", 64, 48))
    i = 2
    while data[i + 1] not in (0xC0, 0xC2):
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    data[i + 5:i + 7] = height.to_bytes(2, "big")
    data[i + 7:i + 9] = width.to_bytes(2, "big")
    return bytes(data)


def yaml_billion_laughs(levels: int = 12, width: int = 10) -> str:
    """Nested YAML aliases: a few hundred bytes that expand to width**levels nodes."""
    lines = ['a0: &a0 ["lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def yaml_deep(depth: int) -> str:
    return "x: " + "[" * depth + "]" * depth + "\n"


def json_deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()
