"""Where the training commands find images, labels and splits: a darknet obj.data, a folder
written by `gunwatch train prepare` (it holds obj.data), or a YOLO data set folder (images/ +
labels/, splits in splits.csv with `file` and `split` columns, as ../shared/datasets/pistols)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...darknet.files import read_data_file, read_list, read_names
from ..errors import TrainingError
from .dataset import find_names, pictures_in
from .loader import labelled
from .split import split_rows

ALL = "all"  # every image of a data set folder, whatever its split


class DataError(TrainingError):
    """The data reference cannot be used as asked; the message names the file and the fix."""


@dataclass
class DataSource:
    ref: Path
    kind: str                      # "obj.data" or "dataset"
    names: list[str] | None        # class names when the data names them
    classes: int | None            # obj.data's classes=
    _lists: dict[str, Path]        # obj.data: split -> list file
    _rows: dict[str, list[str]]    # dataset: split -> image file names

    @property
    def splits(self) -> list[str]:
        return sorted(self._lists) if self.kind == "obj.data" else sorted(self._rows)

    def pairs(self, split: str) -> list[tuple[Path, Path]]:
        """(image, label) pairs of one split, in the list's (or file-name) order."""
        if self.kind == "obj.data":
            if split not in self._lists:
                raise DataError(f"{self.ref}: no {split!r} list (no {split}= key and no {split}.txt "
                                f"beside it); splits here: {', '.join(self.splits) or 'none'}")
            if not self._lists[split].is_file():
                raise DataError(f"{self.ref}: {split}= names {self._lists[split]}, which does not exist")
            return labelled(read_list(self._lists[split]))
        if split not in self._rows:
            raise DataError(f"{self.ref}: no images in split {split!r}; splits here: "
                            f"{', '.join(self.splits)}")
        images = self.ref / "images"
        return labelled([images / name for name in self._rows[split]])


def _resolve(value: str, base: Path) -> Path:
    """darknet reads paths relative to where it runs; prepare writes absolute ones. Try the
    path as given, then relative to the obj.data's folder."""
    path = Path(value)
    return path if path.is_absolute() or path.exists() else base / path


def _open_obj_data(path: Path) -> DataSource:
    keys = read_data_file(path)
    base = path.parent
    lists = {split: _resolve(keys[split], base) for split in ("train", "valid", "test") if split in keys}
    for split in ("train", "valid", "test"):
        if split not in lists and (base / f"{split}.txt").is_file():
            lists[split] = base / f"{split}.txt"
    names = None
    if "names" in keys and _resolve(keys["names"], base).is_file():
        names = read_names(_resolve(keys["names"], base))
    try:
        classes = int(keys["classes"]) if "classes" in keys else None
    except ValueError:
        raise DataError(f"{path}: classes={keys['classes']!r} is not a number") from None
    return DataSource(path, "obj.data", names, classes, lists, {})


def _open_dataset(root: Path) -> DataSource:
    images = root / "images"
    found = sorted(p.relative_to(images).as_posix() for p in pictures_in(images))
    rows: dict[str, list[str]] = {ALL: found}
    if (root / "splits.csv").is_file():
        for row in split_rows(root / "splits.csv"):
            split, name = row["split"], row["file"]
            if not split:
                continue
            # an export laid out per split (images/<split>/NAME, as import-external writes it)
            # names the bare file in its splits.csv
            if not (images / name).exists() and (images / split / name).exists():
                name = f"{split}/{name}"
            rows.setdefault(split, []).append(name)
        for split in rows:
            rows[split].sort()
    return DataSource(root, "dataset", find_names(root), None, {}, rows)


def open_data(ref: str | Path) -> DataSource:
    """Open an obj.data file, a prepared folder or a YOLO data set folder."""
    path = Path(ref)
    if path.is_file():
        return _open_obj_data(path)
    if (path / "obj.data").is_file():
        return _open_obj_data(path / "obj.data")
    if (path / "images").is_dir():
        return _open_dataset(path)
    raise DataError(f"{path}: not an obj.data file, a folder from `gunwatch train prepare`, or a "
                    "YOLO data set folder (images/ + labels/, splits in splits.csv)")
