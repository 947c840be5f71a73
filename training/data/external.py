"""Import a labelled data set that someone committed to a public git repository (a Roboflow
export, typically) into gunwatch's darknet layout, straight from a bare mirror of that repository.

Reading the objects with ``git cat-file`` needs no work tree, so the pictures exist once, in the
output, and the exact commit they came from is known and recorded. The kinds of source:

- gun sources: boxes of the gun classes become class 0; any other class is dropped, and a
  picture that shows a *gun-like* class we cannot map (``weapon`` mixing guns and knives) is
  dropped whole, since a gun there would become a missed label;
- gun-free sources: every kept picture gets an empty label file; a picture with any gun or
  gun-like box is dropped, as are pictures whose file name says they show a weapon;
- reviewed sources: a gun-like class (``weapon``) becomes class 0 only in the pictures that a
  person looked at and marked ``handgun`` in a review file (training/data/reviews/, made with the
  contact sheets of review_sheets.py); every other picture of the export is left out.

A share of the pictures (~15 %) is held back by a hash of the picture's *source* name: Roboflow
writes augmented copies of one picture as NAME_jpg.rf.<hash>.jpg, and all copies must land on
the same side or the held-back score measures memory.

The output: images/{train,heldout}/, labels/{train,heldout}/ (one line ``0 cx cy w h`` per gun
box, normalised; empty for gun-free pictures), train.txt and heldout.txt (absolute picture
paths), splits.csv (file, split, source_image) and PROVENANCE.md. ``gunwatch train prepare
--negatives OUT/images/train`` adds a gun-free output's train part to a data set.
"""

from __future__ import annotations

import csv
import hashlib
import re
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ...darknet.files import names_from_text
from ..errors import TrainingError
from .dataset import IMAGE_SUFFIXES

HELDOUT_SHARE = 0.15
# Source.review_file is relative to this folder, so the review travels with the code that reads it.
REVIEWS = Path(__file__).parent
VERDICTS = ("handgun", "other", "unsure")
LICENSE_FILES = ("README.dataset.txt", "README.roboflow.txt", "data.yaml", "LICENSE", "LICENSE.md",
                 "LICENSE.txt", "COPYING")
# Names that mean "a gun" in the exports we have seen (lower-case, compared whole).
GUN_NAMES = ("gun", "guns", "pistol", "pistols", "handgun", "handguns", "firearm", "revolver", "arma")
# Classes that may hold a gun without being only guns: a picture showing one cannot be gun-free,
# and cannot be a clean gun picture either.
GUN_LIKE_NAMES = ("weapon", "weapons", "rifle", "rifles", "shotgun", "shotguns", "armas")
# File names of pictures that a gun-free import never takes, whatever their labels say: an
# annotator who labelled only people may have left the weapon in the picture unlabelled.
WEAPON_WORDS = r"gun|pistol|rifle|weapon|(?<![a-z])arma|knife|robbery|shoot|firearm|rpg|uzi|ak47|ar15"


class ExternalError(TrainingError):
    """The source cannot be imported as asked; the message says why and what to do."""


@dataclass
class Source:
    """Where an export lies in its repository and how its classes map to ours."""
    name: str
    repo: str                      # owner/name, for the provenance
    root: str                      # folder of the export inside the repository ("" = top)
    gun_free: bool                 # True: empty labels only; False: gun boxes -> class 0
    gun_classes: tuple[str, ...] = ()
    drop_classes: tuple[str, ...] = ()   # pictures with these classes are left out
    keep_only_classes: tuple[str, ...] | None = None  # gun-free: a picture needs one of these
    exclude_names: str | None = WEAPON_WORDS
    names_file: str | None = None  # data.yaml or names file elsewhere in the repository
    review_file: str | None = None  # verdicts per source picture, relative to training/data/
    camera_domain: str = ""
    notes: str = ""


# Sources examined in docs/data-sources.md and found usable.
SOURCES: dict[str, Source] = {
    "cctv-people": Source(
        name="cctv-people", repo="madeelworks/Weapon-Detection", root="Assets/dataset", gun_free=True,
        drop_classes=("weapon",), keep_only_classes=("person",), names_file="Ai-Models/data.yaml",
        camera_domain="camera domain: grayscale CCTV frames (shops, streets, offices), people at a distance",
        notes="Roboflow 'weapon detection cctv v3 dataset' (weapon-detection-cctv), classes person and "
              "weapon; weapon mixes handguns, rifles and knives, so only pictures whose boxes are all "
              "'person' are taken, as gun-free. Export: 416x416 stretched, grayscale, train pictures "
              "augmented x2 (flip, +-15 deg rotation, shear, 5 % salt and pepper). Many frames are "
              "from UCF-Crime shoplifting videos (their own terms: research use); the export is "
              "labelled CC BY 4.0 by its uploader."),
    "cctv-guns": Source(
        name="cctv-guns", repo="madeelworks/Weapon-Detection", root="Assets/dataset", gun_free=False,
        gun_classes=("weapon",), names_file="Ai-Models/data.yaml",
        review_file="reviews/weapon-detection-cctv.csv",
        camera_domain="camera domain: grayscale CCTV frames (shops, streets, offices), people holding "
                      "handguns",
        notes="The same export as cctv-people. Its 'weapon' class mixes handguns, rifles, machine guns "
              "and knives, so only the pictures whose source picture was reviewed by eye as showing "
              "handguns in every weapon box (training/data/reviews/weapon-detection-cctv.csv) are "
              "taken; their weapon boxes become class 0, person boxes are left out."),
    "phone-wallet": Source(
        name="phone-wallet", repo="aitkherimed1228/Yolov10_project", root="detection-2", gun_free=True,
        drop_classes=(),
        camera_domain="close-up: webcam frames of a hand holding a phone, wallet or earbuds case",
        notes="Roboflow 'detection' (detection-hfuet/detection-necem v2), classes airpods, phone, "
              "wallet: hand-held look-alikes, all taken as gun-free. 640x640 stretched, train "
              "pictures augmented x2 (random crop 0-21 %)."),
}


# --- reading a bare repository ---------------------------------------------------------------

def _git(git_dir: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True,
                              capture_output=True).stdout
    except FileNotFoundError as exc:
        raise ExternalError("git is not installed; it reads the mirrored repository") from exc
    except subprocess.CalledProcessError as exc:
        raise ExternalError(f"{git_dir}: git {' '.join(args)} failed: "
                            f"{exc.stderr.decode(errors='replace').strip()}") from exc


class BlobReader:
    """One ``git cat-file --batch`` for all the reads: a process per picture would take longer
    than the copying."""

    def __init__(self, git_dir: Path):
        self._proc = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, sha: str) -> bytes:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(sha.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            raise ExternalError(f"object {sha}: not a blob ({b' '.join(header).decode(errors='replace')})")
        data = self._proc.stdout.read(int(header[2]))
        self._proc.stdout.read(1)  # the newline after each object
        return data

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def label_path(image: str) -> str:
    """The YOLO label file of an export picture: its last images/ folder becomes labels/."""
    parts = list(PurePosixPath(image).parts)
    at = len(parts) - 1 - parts[::-1].index("images")
    parts[at] = "labels"
    return str(PurePosixPath(*parts).with_suffix(".txt"))


def export_pictures(files: dict[str, str]) -> list[str]:
    """The pictures among an export's files (those in an images/ folder), sorted."""
    return sorted(p for p in files if "/images/" in f"/{p}" and p.lower().endswith(IMAGE_SUFFIXES))


def open_export(source: Source, git_dir: Path, commit: str) -> tuple[str, dict[str, str]]:
    """The commit's full SHA and path -> blob SHA of the export's files, with the top's files (a
    LICENSE there) and the folder of a names file kept elsewhere."""
    if not (git_dir / "HEAD").exists() and not (git_dir / ".git").exists():
        raise ExternalError(f"{git_dir}: not a git repository (fetch the source's mirror first)")
    sha = _git(git_dir, "rev-parse", "--verify", f"{commit}^{{commit}}").decode().strip()
    files = list_tree(git_dir, sha, source.root)
    if not files:
        raise ExternalError(f"{git_dir}: nothing under {source.root!r} at {sha[:12]}")
    extra = list_tree(git_dir, sha, "", recursive=False)
    if source.names_file:
        extra.update(list_tree(git_dir, sha, str(PurePosixPath(source.names_file).parent).strip(".")))
    return sha, {**extra, **files}


def list_tree(git_dir: Path, commit: str, root: str, recursive: bool = True) -> dict[str, str]:
    """path -> blob sha of every file under ``root`` at ``commit``."""
    args = ["ls-tree", *(["-r"] if recursive else []), "-z", "--full-tree", commit]
    if root:
        args += ["--", root.rstrip("/") + "/"]
    files = {}
    for entry in _git(git_dir, *args).split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            files[path.decode()] = sha.decode()
    return files


# --- license ---------------------------------------------------------------------------------

ALLOWED = [  # (pattern on the stated text, what we record)
    (r"\bcc[- ]?by[- ]?sa\b|attribution[- ]sharealike", "CC BY-SA"),
    (r"\bcc[- ]?by\b|creative commons attribution\b", "CC BY"),
    (r"\bcc0\b|public domain", "CC0 / Public Domain"),
    (r"\bmit license\b|^mit\b|permission is hereby granted, free of charge", "MIT"),
    (r"apache license|\bapache[- ]2", "Apache-2.0"),
]
REFUSED = [
    (r"\bnc\b|non-?commercial", "non-commercial (NC): not usable for a model we ship"),
    (r"\bnd\b|no ?deriv", "no-derivatives (ND)"),
    (r"\bprivate\b", "private"),
]


@dataclass
class License:
    name: str
    stated: str        # the line as the source states it
    file: str          # repository path it is stated in


def _license_statement(path: str, text: str) -> str | None:
    """The line of a README.dataset.txt / data.yaml / LICENSE that states the license."""
    base = PurePosixPath(path).name
    if base.startswith("LICENSE") or base == "COPYING":
        return " ".join(text.split()[:60])
    for line in text.splitlines():
        m = re.match(r"\s*license\s*:\s*(.+)", line, re.IGNORECASE)
        if m:
            return m.group(1).strip()
    return None


def classify_license(stated: str) -> str:
    """What we record for a stated license; ExternalError when it does not allow training a
    model that we ship."""
    low = stated.lower()
    for pattern, why in REFUSED:
        if re.search(pattern, low):
            raise ExternalError(f"license {stated!r}: {why}")
    for pattern, name in ALLOWED:
        if re.search(pattern, low, re.MULTILINE):
            version = re.search(r"\b([1-4]\.0)\b", low)
            return f"{name} {version.group(1)}" if version and name.startswith("CC BY") else name
    raise ExternalError(f"license {stated!r}: not one we know allows training (CC BY, CC BY-SA, "
                        "CC0, public domain, MIT, Apache-2.0)")


def find_license(files: dict[str, str], root: str, reader: BlobReader) -> License:
    """The export's own license statement (its folder first, then the repository's top)."""
    folders = [root.rstrip("/"), ""] if root else [""]
    seen = []
    for folder in folders:
        for name in LICENSE_FILES:
            path = f"{folder}/{name}" if folder else name
            if path not in files:
                continue
            seen.append(path)
            stated = _license_statement(path, reader.read(files[path]).decode("utf-8", "replace"))
            if stated:
                return License(classify_license(stated), stated, path)
    raise ExternalError(f"no license stated in {', '.join(LICENSE_FILES)} of {root or 'the top'} "
                        f"(found: {', '.join(seen) or 'none of these files'}); a source without a "
                        "license is not imported")


# --- labels and names ------------------------------------------------------------------------

def read_names(files: dict[str, str], root: str, reader: BlobReader,
               names_file: str | None = None) -> list[str]:
    """Class names of a YOLO export: data.yaml's names (list or mapping), else a names file.
    ``names_file`` names a data.yaml outside the export (some repositories move it)."""
    prefix = f"{root.rstrip('/')}/" if root else ""
    yaml_path = names_file if names_file and names_file.endswith((".yaml", ".yml")) else prefix + "data.yaml"
    if names_file and names_file not in files:
        raise ExternalError(f"{names_file}: not in the repository at this commit")
    if names_file and yaml_path != names_file:
        return names_from_text(reader.read(files[names_file]).decode())
    if yaml_path in files:
        import yaml

        data = yaml.safe_load(reader.read(files[yaml_path])) or {}
        names = data.get("names")
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names)]
        if isinstance(names, list):
            return [str(n) for n in names]
    for name in ("obj.names", "classes.txt", "_darknet.labels"):
        if prefix + name in files:
            return names_from_text(reader.read(files[prefix + name]).decode())
    raise ExternalError(f"{root or 'top'}: no data.yaml names and no names file: class ids cannot be mapped")


def parse_label(text: str) -> list[tuple[int, float, float, float, float]]:
    """Boxes of a YOLO label file; a polygon line (class x1 y1 x2 y2 ...) becomes its envelope,
    since some Roboflow exports mix segmentation lines into detection labels."""
    boxes = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 5:
            cls, cx, cy, w, h = int(float(parts[0])), *map(float, parts[1:])
        elif len(parts) >= 7 and len(parts) % 2 == 1:
            xs, ys = list(map(float, parts[1::2])), list(map(float, parts[2::2]))
            cls = int(float(parts[0]))
            cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
            w, h = max(xs) - min(xs), max(ys) - min(ys)
        else:
            raise ValueError(f"not a YOLO line: {line.strip()!r}")
        boxes.append((cls, cx, cy, w, h))
    return boxes


def read_reviews(path: Path) -> dict[str, str]:
    """source_image -> verdict of a review file (columns source_image, verdict, note)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError as exc:
        raise ExternalError(f"{path}: review file missing") from exc
    verdicts: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        name, verdict = row["source_image"].strip(), (row["verdict"] or "").strip()
        if verdict not in VERDICTS:
            raise ExternalError(f"{path}:{line}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        if name in verdicts:
            raise ExternalError(f"{path}:{line}: {name} is reviewed twice")
        verdicts[name] = verdict
    return verdicts


def source_stem(file_name: str) -> str:
    """The picture an export file was made from: Roboflow's NAME_jpg.rf.<hash>.jpg -> NAME."""
    stem = PurePosixPath(file_name).stem
    return re.sub(r"_(jpe?g|png|bmp|webp)\.rf\.[0-9a-f]+$", "", stem, flags=re.IGNORECASE)


def is_heldout(key: str, share: float = HELDOUT_SHARE) -> bool:
    """Stable across runs, machines and Python versions (unlike hash())."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 10000 < share * 10000


def box_side(box) -> float:
    """A box's side as a fraction of the picture's: the geometric mean of width and height."""
    return (box[3] * box[4]) ** 0.5


# --- the import ------------------------------------------------------------------------------

@dataclass
class ImportResult:
    out: Path
    commit: str
    license: License
    counts: Counter = field(default_factory=Counter)
    kept: dict[str, int] = field(default_factory=dict)       # split -> pictures
    boxes: dict[str, int] = field(default_factory=dict)      # split -> gun boxes
    gun_sides: list[float] = field(default_factory=list)
    class_sides: dict[str, list[float]] = field(default_factory=dict)  # source class -> sides
    kept_sides: dict[str, list[float]] = field(default_factory=dict)   # the same, kept pictures


def _is_image(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or data[:2] == b"BM"


def import_source(source: Source, git_dir: Path, out: Path, *, commit: str = "HEAD",
                  share: float = HELDOUT_SHARE) -> ImportResult:
    """Write ``source`` (mirrored in the bare repository ``git_dir``) into ``out``."""
    git_dir = Path(git_dir)
    sha, files = open_export(source, git_dir, commit)
    reviews = read_reviews(REVIEWS / source.review_file) if source.review_file else None
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ExternalError(f"{out}: not empty; give a new folder (the import never mixes runs)")

    with BlobReader(git_dir) as reader:
        lic = find_license(files, source.root, reader)
        names = [n.lower() for n in read_names(files, source.root, reader, source.names_file)]
        gun_ids = {i for i, n in enumerate(names) if n in source.gun_classes}
        if not source.gun_free and not gun_ids:
            raise ExternalError(f"{source.name}: none of the gun classes {source.gun_classes} is among "
                                f"the export's names {names}")
        drop_ids = {i for i, n in enumerate(names) if n in source.drop_classes or n in GUN_LIKE_NAMES
                    or (source.gun_free and n in GUN_NAMES)}
        drop_ids -= gun_ids
        keep_ids = (None if source.keep_only_classes is None else
                    {i for i, n in enumerate(names) if n in source.keep_only_classes})
        exclude = (re.compile(source.exclude_names, re.IGNORECASE)
                   if source.gun_free and source.exclude_names else None)

        result = ImportResult(out, sha, lic)
        labels = {p: s for p, s in files.items() if "/labels/" in f"/{p}" and p.endswith(".txt")}
        images = export_pictures(files)
        rows, lists = [], {"train": [], "heldout": []}
        taken: set[str] = set()
        for image in images:
            result.counts["pictures in source"] += 1
            img = PurePosixPath(image)
            group = source_stem(img.name)
            label = label_path(image)
            if label not in labels:
                result.counts["dropped: no label file"] += 1
                continue
            try:
                boxes = parse_label(reader.read(labels[label]).decode("utf-8", "replace"))
            except ValueError:
                result.counts["dropped: malformed label"] += 1
                continue
            for b in boxes:
                if b[0] < len(names):
                    result.class_sides.setdefault(names[b[0]], []).append(box_side(b))
            classes = {b[0] for b in boxes}
            if classes & drop_ids:
                result.counts["dropped: shows a gun or gun-like class"] += 1
                continue
            if any(c >= len(names) for c in classes):
                result.counts["dropped: class id beyond the names"] += 1
                continue
            if source.gun_free:
                if exclude and exclude.search(img.name):
                    result.counts["dropped: file name names a weapon"] += 1
                    continue
                if keep_ids is not None and (not classes or not classes <= keep_ids):
                    result.counts["dropped: not only the kept classes"] += 1
                    continue
                kept_boxes = []
            else:
                kept_boxes = [(0, *b[1:]) for b in boxes if b[0] in gun_ids]
                if not kept_boxes:
                    result.counts["dropped: no gun box"] += 1
                    continue
            if reviews is not None and (verdict := reviews.get(group)) != "handgun":
                result.counts[f"dropped: reviewed {verdict}" if verdict else "dropped: not reviewed"] += 1
                continue
            if img.name in taken:
                result.counts["dropped: same file name twice"] += 1
                continue
            data = reader.read(files[image])
            if data.startswith(b"version https://git-lfs"):
                result.counts["dropped: git-lfs pointer, not the picture"] += 1
                continue
            if not _is_image(data):
                result.counts["dropped: not a JPEG/PNG/BMP"] += 1
                continue
            taken.add(img.name)
            split = "heldout" if is_heldout(group, share) else "train"
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)
            target = out / "images" / split / img.name
            target.write_bytes(data)
            (out / "labels" / split / img.with_suffix(".txt").name).write_text(
                "".join(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for c, cx, cy, w, h in kept_boxes))
            lists[split].append(str(target.resolve()))
            rows.append((img.name, split, group))
            result.kept[split] = result.kept.get(split, 0) + 1
            result.boxes[split] = result.boxes.get(split, 0) + len(kept_boxes)
            for b in boxes:
                result.kept_sides.setdefault(names[b[0]], []).append(box_side(b))
            result.gun_sides += [box_side(b) for b in kept_boxes]

    if not rows:
        raise ExternalError(f"{source.name}: no picture kept ({dict(result.counts)})")
    for split, paths in lists.items():
        (out / f"{split}.txt").write_text("".join(p + "\n" for p in paths))
    with open(out / "splits.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "split", "source_image"])
        w.writerows(rows)
    (out / "PROVENANCE.md").write_text(provenance(source, git_dir, result))
    return result


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" if values else "-"


def provenance(source: Source, git_dir: Path, r: ImportResult) -> str:
    groups = {"train": set(), "heldout": set()}
    with open(r.out / "splits.csv") as fh:
        for row in csv.DictReader(fh):
            groups[row["split"]].add(row["source_image"])
    dropped = "\n".join(f"- {k}: {n}" for k, n in sorted(r.counts.items()))
    sizes = "\n".join(f"| {name} | {len(s)} | {_median(s)} | {len(r.kept_sides.get(name, []))} | "
                      f"{_median(r.kept_sides.get(name, []))} |" for name, s in sorted(r.class_sides.items()))
    kind = ("gun-free: every kept picture has an empty label file" if source.gun_free else
            f"gun: boxes of {', '.join(source.gun_classes)} written as class 0, other classes left out")
    if source.review_file:
        kind += (f"; only pictures whose source picture is reviewed `handgun` in "
                 f"training/data/{source.review_file} (`unsure`, `other` and unreviewed left out)")
    return f"""# Provenance: {source.name}

Written by `gunwatch train import-external` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.
No picture of this folder may be committed to the gunwatch repository.

## Source

- Repository: `{source.repo}` (GitHub), read from the bare mirror `{git_dir}`
- Commit: `{r.commit}`
- Export folder: `{source.root or '(top)'}`
- License: **{r.license.name}**, stated in `{r.license.file}` as: `{r.license.stated}`
- Domain: {source.camera_domain or 'not recorded'}
- Notes: {source.notes or '-'}

If you redistribute pictures or a model card that lists the data, attribute the repository above
and the data set it names.

## What was taken

- Kind: {kind}
- Pictures kept: {sum(r.kept.values())} (train {r.kept.get('train', 0)}, heldout {r.kept.get('heldout', 0)}),
  source pictures (augmented copies together): train {len(groups['train'])}, heldout {len(groups['heldout'])}
- Gun boxes: train {r.boxes.get('train', 0)}, heldout {r.boxes.get('heldout', 0)}; median box side
  (sqrt(w*h), fraction of the picture side): {_median(r.gun_sides)}
- Held back: {HELDOUT_SHARE:.0%} of the source pictures by SHA-1 of the source name (Roboflow's
  `.rf.<hash>` suffix stripped, so augmented copies stay together): heldout.txt, images/heldout/.
  Train on train.txt (or `prepare --negatives {r.out}/images/train` for gun-free pictures) only.

Pictures left out or counted:
{dropped}

Boxes in the source labels by source class (median side as above), in all pictures and in the
kept ones (a gun-free import writes none of them; they say how big the people or look-alikes are):

| class | boxes | median side | boxes kept pictures | median side kept pictures |
|---|---|---|---|---|
{sizes}
"""


def summary(r: ImportResult) -> str:
    dropped = ", ".join(f"{k.removeprefix('dropped: ')} {n}" for k, n in sorted(r.counts.items())
                        if k.startswith("dropped"))
    return (f"{r.out}: {r.kept.get('train', 0)} train + {r.kept.get('heldout', 0)} held-back pictures, "
            f"{sum(r.boxes.values())} gun boxes; license {r.license.name} ({r.license.file}); "
            f"commit {r.commit[:12]}; left out: {dropped or 'none'}")
