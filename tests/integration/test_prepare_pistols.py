"""`gunwatch train prepare` on the real pistols data set: the given split, and the seed's
80/20 split by source picture (augmented copies never straddle train and test)."""

import subprocess
import sys

from ..conftest import PISTOLS, need


def test_pistols_given_and_grouped_splits(tmp_path):
    need(PISTOLS.is_dir(), f"no pistols data set at {PISTOLS}")
    given = subprocess.run([sys.executable, "-m", "gunwatch", "train", "prepare", str(PISTOLS), str(tmp_path / "given"),
                            "--class-names", "gun", "--split", "file", "--no-decode"],
                           capture_output=True, text=True, timeout=300)
    assert given.returncode == 0, given.stderr
    counts = {p: len((tmp_path / "given" / f"{p}.txt").read_text().splitlines()) for p in ("train", "valid", "test")}
    assert counts == {"train": 6217, "valid": 594, "test": 297}  # PROVENANCE.md's table
    grouped = subprocess.run([sys.executable, "-m", "gunwatch", "train", "prepare", str(PISTOLS),
                              str(tmp_path / "grouped"), "--class-names", "gun", "--group-column", "source_image",
                              "--near-duplicates", str(PISTOLS / "near_duplicates.csv"), "--no-decode"],
                             capture_output=True, text=True, timeout=300)
    assert grouped.returncode == 0, grouped.stderr
    import csv

    with open(PISTOLS / "splits.csv", newline="") as fh:
        source_of = {r["file"]: r["source_image"] for r in csv.DictReader(fh)}
    sides = {}
    for part in ("train", "valid"):
        for line in (tmp_path / "grouped" / f"{part}.txt").read_text().splitlines():
            sides.setdefault(source_of[line.rsplit("/", 1)[1]], set()).add(part)
    assert all(len(s) == 1 for s in sides.values())
    assert "(2951 groups)" in grouped.stderr  # 2,971 source pictures, 20 near-duplicate pairs joined
