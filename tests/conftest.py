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


DEBIAN_DARKNET = Path("/usr/lib/darknet/libdarknet.so")
# The other families' CPU builds: install/darknet-forks.sh writes where it put them into this file;
# an environment variable of the same name wins.
FORK_LIBRARY_VARIABLES = {"alexeyab": "GUNWATCH_TEST_ALEXEYAB_LIB", "hank-ai": "GUNWATCH_TEST_HANKAI_LIB"}
FORK_LIBRARIES_FILE = REPO / ".venv" / "darknet-forks.env"
DARKNET_FAMILIES = ("pjreddie", *FORK_LIBRARY_VARIABLES)


def darknet_library_path(family: str) -> Path:
    """The libdarknet.so of one family for the tests; skips (fails in CI) when it is not built."""
    if family == "pjreddie":
        need(DEBIAN_DARKNET.exists(), "Debian libdarknet.so missing (apt-get install darknet)")
        return DEBIAN_DARKNET
    variable = FORK_LIBRARY_VARIABLES[family]
    value = os.environ.get(variable)
    if not value and FORK_LIBRARIES_FILE.exists():
        built = dict(line.split("=", 1) for line in FORK_LIBRARIES_FILE.read_text().split())
        value = built.get(variable)
    need(bool(value) and Path(value).exists(),
         f"no {family} libdarknet.so ({variable} unset, none built): run "
         "`bash install/bootstrap.sh --with-darknet-forks`")
    return Path(value)


@pytest.fixture(scope="session", params=DARKNET_FAMILIES)
def darknet_library(request):
    """Each libdarknet family in turn, loaded (one parametrised run per family)."""
    from gunwatch.darknet import load_library

    library = load_library(darknet_library_path(request.param))
    assert library.variant == request.param, f"{library.path} is not a {request.param} build"
    return library


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
