"""`auto` measures the backends once, picks the faster, and remembers it."""

import importlib.util
import json

import pytest

from gunwatch.detectors.pytorch import _bf16_is_fast
from gunwatch.detectors.select import create_detector

pytestmark = pytest.mark.darknet


def expected_winner() -> str:
    """Debian's darknet is single-threaded C without BLAS: ~10x slower than OpenCV here. PyTorch in
    bfloat16, where the CPU has it natively, is ~1.7x faster than OpenCV (benchmarks/detector_latency.py)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if _bf16_is_fast(torch):
            return "torch"
    return "opencv"


def test_auto_picks_the_fastest_on_cpu_and_caches(coco_tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("GUNWATCH_CACHE_DIR", str(tmp_path))
    detector = create_detector("auto", coco_tiny)
    assert detector.name == expected_winner()
    detector.close()
    cache = json.loads((tmp_path / "auto-backend.json").read_text())
    assert list(cache.values()) == [expected_winner()]
    # a cached choice that names a backend is used as is
    key = next(iter(cache))
    (tmp_path / "auto-backend.json").write_text(json.dumps({key: "darknet"}))
    detector = create_detector("auto", coco_tiny)
    assert detector.name == "darknet"
    detector.close()
