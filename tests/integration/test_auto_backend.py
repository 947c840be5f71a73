"""`auto` measures the backends once, picks the faster, and remembers it."""

import json

import pytest

from gunwatch.detectors.select import create_detector

pytestmark = pytest.mark.darknet


def test_auto_picks_opencv_on_cpu_and_caches(coco_tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("GUNWATCH_CACHE_DIR", str(tmp_path))
    detector = create_detector("auto", coco_tiny)
    # Debian's darknet is single-threaded C without BLAS: ~10x slower than OpenCV here.
    assert detector.name == "opencv"
    detector.close()
    cache = json.loads((tmp_path / "auto-backend.json").read_text())
    assert list(cache.values()) == ["opencv"]
    # a cached choice that names a backend is used as is
    key = next(iter(cache))
    (tmp_path / "auto-backend.json").write_text(json.dumps({key: "darknet"}))
    detector = create_detector("auto", coco_tiny)
    assert detector.name == "darknet"
    detector.close()
