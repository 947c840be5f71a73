"""Train/test splits: the seed study's, reproducible, optionally by groups; or a given one.

The seed split its images with scikit-learn's `train_test_split(test_size=0.2, random_state=1)`.
That is: `numpy.random.RandomState(1).permutation(n)`, the first ceil(0.2 n) indices are the
test set, the rest the training set (checked against scikit-learn in the tests). gunwatch does
the same without depending on scikit-learn.

With groups (augmented copies of one source picture, near-duplicate pairs), the permutation runs
over groups, so every copy of a picture lands on the same side: otherwise the test score
measures memory of the training copies, not detection.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from ..errors import TrainingError
from .dataset import Sample


def seed_split(count: int, test_size: float = 0.2, random_state: int = 1) -> tuple[list[int], list[int]]:
    """(train indices, test indices) exactly as train_test_split(range(count), ...) returns them."""
    permutation = np.random.RandomState(random_state).permutation(count)
    n_test = math.ceil(test_size * count)
    return [int(i) for i in permutation[n_test:]], [int(i) for i in permutation[:n_test]]


class _Groups:
    """Union-find over sample indices."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def group_ids(samples: list[Sample], pattern: str | None = None, column: dict[str, str] | None = None,
              pairs: list[tuple[str, str]] | None = None) -> list[int]:
    """A group number per sample: same `pattern` match (first group) or same `column` value
    (file name -> key, e.g. splits.csv's source_image), joined further by near-duplicate `pairs`
    of file names. Without any of them every sample is its own group."""
    groups = _Groups(len(samples))
    by_key: dict[str, int] = {}
    index_of = {s.image.name: i for i, s in enumerate(samples)}
    regex = re.compile(pattern) if pattern else None
    for i, sample in enumerate(samples):
        key = None
        if column is not None:
            key = column.get(sample.image.name)
        elif regex is not None:
            match = regex.search(sample.image.name)
            key = (match.group(1) if match.groups() else match.group(0)) if match else None
        if key is not None:
            if key in by_key:
                groups.join(i, by_key[key])
            else:
                by_key[key] = i
    for a, b in pairs or []:
        if a in index_of and b in index_of:
            groups.join(index_of[a], index_of[b])
    return [groups.find(i) for i in range(len(samples))]


def grouped_seed_split(groups: list[int], test_size: float = 0.2, random_state: int = 1
                       ) -> tuple[list[int], list[int]]:
    """The seed split applied to groups; returns sample indices, in sample order."""
    keys = sorted(set(groups))
    train_keys, test_keys = seed_split(len(keys), test_size, random_state)
    test_groups = {keys[i] for i in test_keys}
    train = [i for i, g in enumerate(groups) if g not in test_groups]
    test = [i for i, g in enumerate(groups) if g in test_groups]
    return train, test


def split_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a splits.csv in file order (columns file, split, and any others)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"file", "split"} <= set(reader.fieldnames or ()):
            raise TrainingError(f"{path}: needs `file` and `split` columns")
        return list(reader)


def read_splits_csv(path: Path) -> dict[str, dict[str, str]]:
    """file name -> row of a splits.csv."""
    return {row["file"]: row for row in split_rows(path)}


def split_images(path: Path, split: str) -> list[Path]:
    """The pictures of one split of a splits.csv, in file order, in the images/ folder beside it."""
    return [path.parent / "images" / row["file"] for row in split_rows(path) if row["split"] == split]


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Near-duplicate pairs from a CSV with file_a and file_b columns."""
    with open(path, newline="") as fh:
        return [(row["file_a"], row["file_b"]) for row in csv.DictReader(fh)]
