"""Shared fixtures: where the read-only shared data lives, and when a missing service is an error."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUNWATCH_SHARED", REPO.parent / "shared"))
WEIGHTS = SHARED / "weights"
PISTOLS = SHARED / "datasets" / "pistols"
DARKNET_SAMPLES = Path("/usr/share/darknet/data")

# CI sets this: there every service and data set is provisioned, and a skip would hide a gap.
REQUIRE = os.environ.get("GUNWATCH_REQUIRE_SERVICES") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a prerequisite is missing."""
    if condition:
        return
    if REQUIRE:
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


def need_torch() -> ModuleType:
    """torch, for the training engine's tests; usable at module level (skips the whole file)."""
    reason = "torch is missing: the training engine is an optional extra (bash install/bootstrap.sh --with-torch)"
    try:
        return importlib.import_module("torch")
    except ImportError:
        if REQUIRE:
            pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="session")
def coco_tiny_cfg() -> Path:
    cfg = WEIGHTS / "yolov3-tiny.cfg"
    need(cfg.exists() and (WEIGHTS / "yolov3-tiny.weights").exists(), f"no COCO yolov3-tiny in {WEIGHTS}")
    return cfg


@pytest.fixture(scope="session")
def coco_tiny(coco_tiny_cfg):
    from gunwatch.model import load_model

    return load_model(coco_tiny_cfg, WEIGHTS / "coco.names")


@pytest.fixture(scope="session")
def pistols_test_images() -> list[Path]:
    need(PISTOLS.is_dir(), f"no pistols dataset at {PISTOLS}")
    import csv

    with open(PISTOLS / "splits.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    return [PISTOLS / "images" / r["file"] for r in rows]


@pytest.fixture(scope="session")
def sample_photos() -> list[Path]:
    """Real photos with COCO objects: darknet's samples (Debian package)."""
    photos = sorted(DARKNET_SAMPLES.glob("*.jpg"))
    need(bool(photos), f"no darknet sample photos in {DARKNET_SAMPLES} (apt-get install darknet)")
    return photos
