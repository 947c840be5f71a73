"""Shared paths for the training tests (the read-only shared/ folder beside the repo)."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
WEIGHTS = SHARED / "weights"
PISTOLS = SHARED / "datasets" / "pistols"


@pytest.fixture(scope="session")
def coco_cfg() -> Path:
    path = WEIGHTS / "yolov3-tiny.cfg"
    if not path.exists():
        pytest.skip(f"{path} not found (shared/ is not beside the repo)")
    return path


@pytest.fixture(scope="session")
def coco_weights() -> Path:
    path = WEIGHTS / "yolov3-tiny.weights"
    if not path.exists():
        pytest.skip(f"{path} not found (shared/ is not beside the repo)")
    return path


@pytest.fixture(scope="session")
def pistols() -> Path:
    if not (PISTOLS / "splits.csv").exists():
        pytest.skip(f"{PISTOLS} not found (shared/ is not beside the repo)")
    return PISTOLS
