"""Labelled image sets in the three usual formats, read into one form, and checked.

Formats: YOLO/darknet txt (`images/` + `labels/`, one `class cx cy w h` line per box, values
normalised to 0..1, as in ../shared/datasets/pistols), Pascal VOC xml (`Annotations/*.xml` +
`JPEGImages/`), and COCO json (one file with images, annotations, categories). Every image ends
up as a `Sample` with its boxes in YOLO form; an image without boxes is a negative sample.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from ...darknet.files import read_names
from ..errors import TrainingError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
NAMES_FILES = ("obj.names", "classes.txt", "names", "_darknet.labels")  # looked for in this order
MIN_BOX_PIXELS = 2.0  # narrower or lower than this (in the image's pixels) is degenerate


class DatasetError(TrainingError):
    """A data set that cannot be read at all (wrong folder, unknown format)."""


@dataclass
class Sample:
    image: Path
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)  # class cx cy w h
    size: tuple[int, int] | None = None     # (width, height) when known without decoding
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)

    def problem(self, kind: str, detail: str) -> None:
        self.problems.append((kind, detail))


@dataclass
class Dataset:
    names: list[str]
    samples: list[Sample]
    format: str


def pictures_in(folder: Path) -> list[Path]:
    """Every picture under ``folder`` (searched recursively), in path order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def find_names(root: Path) -> list[str] | None:
    """The class names of a data set folder, from the first names file it holds."""
    return next((read_names(root / n) for n in NAMES_FILES if (root / n).is_file()), None)


def load_yolo(root: Path, names: list[str] | None) -> Dataset:
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir():
        raise DatasetError(f"{root}: no images/ folder (YOLO layout: images/ and labels/)")
    names = names or find_names(root)
    samples = []
    for image in pictures_in(images_dir):
        label = labels_dir / image.relative_to(images_dir).with_suffix(".txt")
        sample = Sample(image)
        if not label.exists():
            sample.problem("no label file", f"{image.name}: treated as an image without objects")
        else:
            for number, line in enumerate(label.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                parts = line.split()
                try:
                    cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:5])
                    if len(parts) != 5:
                        raise ValueError
                except (ValueError, IndexError):
                    sample.problem("malformed line", f"{label.name}:{number}: {line.strip()!r}")
                    continue
                sample.boxes.append((cls, cx, cy, w, h))
        samples.append(sample)
    if names is None:
        top = max((b[0] for s in samples for b in s.boxes), default=0)
        names = [str(i) for i in range(top + 1)]
    return Dataset(names, samples, "yolo")


def load_voc(root: Path, names: list[str] | None) -> Dataset:
    annotations = sorted((root / "Annotations").glob("*.xml"))
    image_dir = root / "JPEGImages" if (root / "JPEGImages").is_dir() else root / "images"
    found_names: list[str] = list(names or [])
    samples = []
    for xml_path in annotations:
        tree = ET.parse(xml_path).getroot()
        filename = tree.findtext("filename") or xml_path.stem + ".jpg"
        sample = Sample(image_dir / filename)
        width = float(tree.findtext("size/width") or 0)
        height = float(tree.findtext("size/height") or 0)
        if width <= 0 or height <= 0:
            image = cv2.imread(str(sample.image))
            width, height = (image.shape[1], image.shape[0]) if image is not None else (0.0, 0.0)
        sample.size = (int(width), int(height))
        for obj in tree.findall("object"):
            name = (obj.findtext("name") or "").strip()
            if name not in found_names:
                if names:
                    sample.problem("unknown class", f"{xml_path.name}: {name!r} is not in the names file")
                    continue
                found_names.append(name)
            try:
                x0, y0, x1, y1 = (float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            except (TypeError, ValueError):
                sample.problem("malformed line", f"{xml_path.name}: object without a readable <bndbox>")
                continue
            if width and height:
                sample.boxes.append((found_names.index(name), (x0 + x1) / 2 / width, (y0 + y1) / 2 / height,
                                     (x1 - x0) / width, (y1 - y0) / height))
        samples.append(sample)
    if not annotations:
        raise DatasetError(f"{root}: no Annotations/*.xml (Pascal VOC layout)")
    return Dataset(found_names, samples, "voc")


def load_coco(path: Path, names: list[str] | None) -> Dataset:
    data = json.loads(path.read_text(encoding="utf-8"))
    categories = sorted(data.get("categories", []), key=lambda c: c["id"])
    category_names = [c["name"] for c in categories]
    names = names or category_names
    index = {c["id"]: names.index(c["name"]) for c in categories if c["name"] in names}
    image_dir = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    samples = {}
    for image in data.get("images", []):
        samples[image["id"]] = Sample(image_dir / image["file_name"], size=(image["width"], image["height"]))
    for ann in data.get("annotations", []):
        sample = samples.get(ann["image_id"])
        if sample is None:
            continue
        if ann["category_id"] not in index:
            sample.problem("unknown class", f"annotation {ann.get('id')}: category {ann['category_id']}")
            continue
        x, y, w, h = ann["bbox"]
        iw, ih = sample.size
        sample.boxes.append((index[ann["category_id"]], (x + w / 2) / iw, (y + h / 2) / ih, w / iw, h / ih))
    return Dataset(list(names), list(samples.values()), "coco")


def load_dataset(source: Path, names_file: Path | None = None) -> Dataset:
    """Read a data set, telling the format from its layout."""
    names = read_names(names_file) if names_file else None
    if source.is_file() and source.suffix == ".json":
        return load_coco(source, names)
    if (source / "Annotations").is_dir():
        return load_voc(source, names)
    if (source / "images").is_dir():
        return load_yolo(source, names)
    raise DatasetError(f"{source}: not a data set gunwatch knows: expected images/ + labels/ (YOLO), "
                       "Annotations/ + JPEGImages/ (Pascal VOC) or a COCO .json file")


# Problems that leave a sample usable as it is: darknet reads an image without boxes as a
# negative, which is what it is.
HARMLESS = {"no label file"}


def check(dataset: Dataset, decode: bool = True, fix: bool = False) -> Counter:
    """Find what darknet would choke on or learn wrong. With `fix`, boxes are clipped into the
    image and boxes that cannot be repaired (degenerate, unknown class) are dropped. Returns a
    count per kind of problem (and of images left without boxes)."""
    for sample in dataset.samples:
        if not sample.image.exists():
            sample.problem("image missing", str(sample.image))
            continue
        if decode:
            image = cv2.imread(str(sample.image))
            if image is None:
                sample.problem("image unreadable", f"{sample.image.name}: corrupt or unsupported")
                continue
            sample.size = (image.shape[1], image.shape[0])
        width, height = sample.size or (416, 416)
        kept = []
        for cls, cx, cy, w, h in sample.boxes:
            if not 0 <= cls < len(dataset.names):
                sample.problem("class id beyond names", f"{sample.image.name}: class {cls}, "
                               f"{len(dataset.names)} names")
                continue
            x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            if min(x0, y0) < -1e-6 or max(x1, y1) > 1 + 1e-6:
                sample.problem("box out of range", f"{sample.image.name}: {cx:.3f} {cy:.3f} {w:.3f} {h:.3f}")
                x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
                cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
            if w * width < MIN_BOX_PIXELS or h * height < MIN_BOX_PIXELS:
                sample.problem("degenerate box", f"{sample.image.name}: {w * width:.1f}x{h * height:.1f} px")
                continue
            kept.append((cls, cx, cy, w, h))
        if fix:
            sample.boxes = kept
    counts = Counter(kind for sample in dataset.samples for kind, _ in sample.problems)
    counts["images without boxes"] = sum(not s.boxes for s in dataset.samples)
    return counts


def blocking(sample: Sample, fixed: bool) -> bool:
    """Whether a sample cannot go into training as it is."""
    unfixable = {"image missing", "image unreadable"}
    kinds = {kind for kind, _ in sample.problems} - HARMLESS
    return bool(kinds & unfixable) if fixed else bool(kinds)
