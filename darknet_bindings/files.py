"""darknet's small text files, read one way for the plugin and the training tools: the .data
file (key=value), a class names file, an image list, and where a picture's labels lie."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

# The folder names darknet swaps for `labels` to find a picture's label file.
IMAGE_FOLDERS = ("images", "JPEGImages")


def label_path(image: Path) -> Path:
    """The YOLO label file of a picture: .../images/x.jpg -> .../labels/x.txt (the innermost
    `images` or `JPEGImages` folder), else x.txt beside it. darknet's CLI does this by text
    replacement of the first match anywhere in the path (darknet_label_path in
    gunwatch.training.runs.darknet_cli), which a darknet run's data is checked against."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in IMAGE_FOLDERS:
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _text(path: str | os.PathLike, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from exc


def _lines(path: str | os.PathLike, what: str) -> list[str]:
    """The file's lines stripped, without blank lines and lines starting with `#` (a `#`
    further on is part of a path)."""
    lines = [line.strip() for line in _text(path, what).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_list(path: str | os.PathLike) -> list[Path]:
    """The pictures of a darknet list file, one per line; a relative path is read from the
    list's folder."""
    base = Path(path).parent
    return [Path(line) if Path(line).is_absolute() else base / line for line in _lines(path, "the image list")]


def names_from_text(text: str) -> list[str]:
    """Class names, one per line, in class id order; blank lines are no class."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_names(path: str | os.PathLike) -> list[str]:
    return names_from_text(_text(path, "class names"))


def read_data_file(path: str | os.PathLike) -> dict[str, str]:
    """A darknet .data file (obj.data): `key = value` lines."""
    keys = {}
    for line in _lines(path, "the data file"):
        if "=" in line:
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys
