"""Bounded decoding: pixel limit from the header, degenerate shapes, only regular files."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from gunwatch.decode import ImageRefused, check_size, decode_for_detection, png_size, read_picture
from gunwatch.inputs import frames
from gunwatch.model import InputSpec

from ..support.hostile import encoded, jpeg_claiming, png_bomb


@pytest.mark.parametrize("suffix,width,height", [(".jpg", 4000, 1), (".png", 1, 4000),
                                                 (".jpg", 3000, 20), (".png", 20, 3000)])
@pytest.mark.parametrize("spec", [InputSpec(), None])
def test_degenerate_shapes_are_refused_with_a_reason(suffix, width, height, spec):
    with pytest.raises(ImageRefused, match=f"{width}x{height} pixels"):
        decode_for_detection(encoded(suffix, width, height), spec)


def test_narrow_but_sane_shapes_still_decode():
    image, _, _ = decode_for_detection(encoded(".jpg", 1000, 20), InputSpec())
    assert image is not None


def test_pixel_limit_is_checked_from_the_header_before_decoding():
    bomb = png_bomb(30000, 30000)
    assert len(bomb) < 5_000_000 and png_size(bomb) == (30000, 30000)
    for data in (bomb, jpeg_claiming(65000, 65000)):
        with pytest.raises(ImageRefused, match="max_pixels"):
            decode_for_detection(data, InputSpec())
        with pytest.raises(ImageRefused, match="max_pixels"):
            decode_for_detection(data, None)


def test_pixel_limit_is_configurable():
    data = encoded(".png", 400, 300)
    with pytest.raises(ImageRefused, match="max_pixels"):
        decode_for_detection(data, None, max_pixels=100_000)
    assert decode_for_detection(data, None, max_pixels=120_000)[0].shape == (300, 400, 3)
    check_size(7680, 4320)  # 8K video passes the default


def test_bomb_costs_no_memory_in_a_fresh_process(tmp_path):
    picture = tmp_path / "bomb.png"
    picture.write_bytes(png_bomb(30000, 30000))
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so the child would report the
    # peak of the pytest process it was forked from.
    code = ("import re, sys\nfrom gunwatch.inputs import read_image\n"
            "try:\n    read_image(sys.argv[1])\nexcept ValueError as exc:\n    print(exc)\n"
            "status = open('/proc/self/status').read()\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(picture)], capture_output=True, text=True,
                         timeout=120).stdout.split("\n")
    assert "max_pixels" in out[0]
    assert int(out[1]) < 400, f"peak RSS {out[1]} MB"


def test_fifo_named_jpg_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "camera.jpg"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ImageRefused, match="not a regular file"):
        read_picture(fifo)
    failures = list(frames(str(fifo), fifo))
    assert "not a regular file" in failures[0].reason
    assert time.monotonic() - started < 5


def test_symlink_loop_is_named(tmp_path):
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(ImageRefused, match="symbolic link loop"):
        read_picture(loop)


def test_rss_stays_small_in_this_process():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageRefused):
        decode_for_detection(jpeg_claiming(65000, 65000), None)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB
