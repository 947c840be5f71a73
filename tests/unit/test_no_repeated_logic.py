"""No logic written twice across the plugin, the darknet bindings and the training tools (issue
28: the weights header check, the AP matching and the darknet file readers had each drifted
apart in their copies). pylint's copy-paste finder (symilar) compares the three folders, with
imports, docstrings, comments and signatures left out; a repeated block that spans two of them,
or that lies in training/, fails the test with the places to fold into one."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("plugin", "darknet_bindings", "training")
MIN_LINES = 6  # shorter runs are idioms (a dataclass's fields, an argparse group), not logic
SYMILAR = ("from pylint.checkers.symilar import Run; import sys; Run(sys.argv[1:])",
           f"--duplicates={MIN_LINES}", "--ignore-comments", "--ignore-docstrings",
           "--ignore-imports", "--ignore-signatures")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pylint") is None,
                                reason="pylint missing: pip install -e .[test]")


def repeated_blocks(root: Path) -> list[list[str]]:
    """Each repeated block symilar finds under root's PACKAGES, as its `file:[from:to]` places
    (paths relative to root)."""
    files = sorted(str(p.relative_to(root)) for package in PACKAGES for p in (root / package).rglob("*.py"))
    done = subprocess.run([sys.executable, "-c", *SYMILAR, *files], cwd=root, capture_output=True,
                          text=True, timeout=300)
    if not re.search(r"^TOTAL lines=\d+", done.stdout, re.MULTILINE):
        raise AssertionError(f"symilar did not run:\n{done.stdout}\n{done.stderr}")
    blocks: list[list[str]] = []
    for line in done.stdout.splitlines():
        if re.match(r"^\d+ similar lines in \d+ files$", line):
            blocks.append([])
        elif line.startswith("==") and blocks:
            blocks[-1].append(line[2:])
    return blocks


def across_or_in_training(blocks: list[list[str]]) -> list[list[str]]:
    def package(place: str) -> str:
        return Path(place.split(":", 1)[0]).parts[0]

    return [places for places in blocks
            if len({package(p) for p in places}) > 1 or any(package(p) == "training" for p in places)]


def test_no_block_is_repeated_between_the_packages():
    found = across_or_in_training(repeated_blocks(REPO))
    assert not found, "logic written twice; keep one and import it:\n" + "\n".join(
        "  " + "  <->  ".join(places) for places in found)


def test_the_finder_reports_a_planted_copy(tmp_path):
    """The check above can fail: a function of the bindings pasted into training/ is found."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    source = (REPO / "darknet_bindings" / "weights.py").read_text(encoding="utf-8")
    shutil.copy(REPO / "darknet_bindings" / "weights.py", tmp_path / "darknet_bindings" / "weights.py")
    planted = source[source.index("def check_weights("):]
    (tmp_path / "training" / "pasted.py").write_text(planted.replace("check_weights", "fits"), encoding="utf-8")
    found = across_or_in_training(repeated_blocks(tmp_path))
    assert [sorted(Path(p.split(":", 1)[0]).parts[0] for p in places) for places in found] == [
        ["darknet_bindings", "training"]]
