"""`auto` measures the backends once, picks the faster, and remembers it."""

import json
import re

import pytest

from gunwatch.detectors.select import create_detector

pytestmark = pytest.mark.darknet


def test_auto_picks_the_fastest_measured_and_caches(coco_tiny, tmp_path, monkeypatch, caplog):
    # Which backend wins depends on the CPU and on what else runs (torch in bfloat16 beats OpenCV
    # on an idle CPU with AVX-512 BF16, not always on a loaded one): the test checks the rule,
    # the fastest of the times auto itself measured, not a winner named in advance.
    monkeypatch.setenv("GUNWATCH_CACHE_DIR", str(tmp_path))
    caplog.set_level("INFO", logger="gunwatch.detectors.select")
    detector = create_detector("auto", coco_tiny)
    measured = {m.group(1): float(m.group(2)) for m in
                (re.match(r"auto backend: (\w+) takes ([0-9.]+) ms/frame", r.getMessage()) for r in caplog.records) if m}
    assert {"opencv", "darknet"} <= set(measured), measured
    assert detector.name == min(measured, key=measured.get)
    detector.close()
    cache = json.loads((tmp_path / "auto-backend.json").read_text())
    assert list(cache.values()) == [min(measured, key=measured.get)]
    # a cached choice that names a backend is used as is
    key = next(iter(cache))
    (tmp_path / "auto-backend.json").write_text(json.dumps({key: "darknet"}))
    detector = create_detector("auto", coco_tiny)
    assert detector.name == "darknet"
    detector.close()
