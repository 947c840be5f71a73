"""`gunwatch train prepare`: a data set in, a darknet training folder out.

Output folder: `images/` (links to the original pictures, which stay untouched), `labels/` (YOLO
txt, fixed if asked; with --tighten-rotated the train boxes of rotated pictures tightened),
`obj.names`, `obj.data`, `train.txt`, `valid.txt` (and `test.txt` when the split has one),
`splits.csv` (file, split, group) and `report.json` (what was checked, found, fixed, dropped or
tightened). With --upright-rotated, `upright/` holds the rotated train pictures turned back, which
train.txt lists beside the pictures they came from. With --gun-free-share, `gun-free/` holds train
pictures with their guns painted out (empty labels), and --negatives adds a folder of gun-free
pictures to train.txt; --extra-train adds the train part of a `gunwatch train import-external`
output (more gun pictures, with their boxes). Valid and test never get any of them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import TrainingError
from .dataset import Dataset, Sample, blocking, check, load_dataset, load_yolo
from .split import group_ids, grouped_seed_split, read_pairs, read_splits_csv


class PrepareError(TrainingError):
    """The data set cannot be prepared as asked; the message says what to change."""


@dataclass
class Prepared:
    out: Path
    counts: Counter
    splits: dict[str, int]
    dropped: int
    groups: int
    rotated: dict | None = None   # what --tighten-rotated / --upright-rotated did (see _rotated_train)
    gun_free: dict | None = None  # what --gun-free-share / --negatives added (see _gun_free_train)
    extra: dict | None = None     # train pictures (and gun boxes) each --extra-train folder added


def _split(dataset: Dataset, mode: str, splits_csv: Path | None, group_column: str | None,
           group_pattern: str | None, near_duplicates: Path | None) -> tuple[dict[str, list[int]], int]:
    samples = dataset.samples
    rows = read_splits_csv(splits_csv) if splits_csv else None
    if mode == "file":
        if rows is None:
            raise PrepareError("--split file needs a splits.csv (beside the data set or --splits-csv)")
        parts: dict[str, list[int]] = {}
        for i, sample in enumerate(samples):
            row = rows.get(sample.image.name)
            if row is None:
                raise PrepareError(f"{splits_csv}: no row for {sample.image.name}")
            parts.setdefault(row["split"], []).append(i)
        return parts, len(samples)
    column = None
    if group_column:
        if rows is None:
            raise PrepareError("--group-column needs a splits.csv with that column")
        column = {name: row[group_column] for name, row in rows.items() if group_column in row}
        if not column:
            raise PrepareError(f"{splits_csv}: no column {group_column!r}")
    pairs = read_pairs(near_duplicates) if near_duplicates else None
    groups = group_ids(samples, group_pattern, column, pairs)
    train, test = grouped_seed_split(groups)
    return {"train": train, "valid": test}, len(set(groups))


def _link_name(sample: Sample, taken: set[str]) -> str:
    name = sample.image.name
    stem, suffix, k = sample.image.stem, sample.image.suffix, 1
    while name in taken:  # same file name in two sub-folders
        name, k = f"{stem}__{k}{suffix}", k + 1
    taken.add(name)
    return name


def prepare(source: Path, out: Path, *, names_file: Path | None = None, class_names: list[str] | None = None,
            split: str = "seed", splits_csv: Path | None = None, group_column: str | None = None,
            group_pattern: str | None = None, near_duplicates: Path | None = None, fix: bool = False,
            drop: bool = False, decode: bool = True, tighten_rotated: bool = False,
            upright_rotated: bool = False, gun_free_share: float = 0.0, negatives: Path | None = None,
            extra_train: list[Path] | None = None, extra_repeat: int = 1, seed: int = 0) -> Prepared:
    dataset = load_dataset(source, names_file)
    if class_names:
        dataset.names = class_names
    counts = check(dataset, decode=decode, fix=fix)
    bad = [s for s in dataset.samples if blocking(s, fixed=fix)]
    if bad and not drop:
        kinds = Counter(kind for s in bad for kind, _ in s.problems)
        example = next(detail for s in bad for kind, detail in s.problems)
        raise PrepareError(f"{len(bad)} of {len(dataset.samples)} images have problems "
                           f"({', '.join(f'{k}: {n}' for k, n in kinds.most_common())}), e.g. {example}. "
                           "Use --fix to clip boxes and drop broken ones, --drop to leave those images "
                           "out, or both")
    if drop:
        dataset.samples = [s for s in dataset.samples if not blocking(s, fixed=fix)]
    if splits_csv is None and (source / "splits.csv").exists():
        splits_csv = source / "splits.csv"
    parts, groups = _split(dataset, split, splits_csv, group_column, group_pattern, near_duplicates)
    if (gun_free_share or negatives or extra_train) and "train" not in parts:
        raise PrepareError("--gun-free-share, --negatives and --extra-train add to the train split, "
                           "and this split has none")
    # painted out with the boxes as given: on rotated pictures the loose envelope covers the gun
    # better than the tightened box would
    given_boxes = {i: list(dataset.samples[i].boxes) for i in parts.get("train", [])}
    rotated = None
    if tighten_rotated or upright_rotated:
        rotated = _rotated_train(dataset, parts.get("train", []), tighten=tighten_rotated,
                                 upright_dir=out / "upright" if upright_rotated else None)
    # before the gun-free share is counted, so that the share holds for the whole train list;
    # after the rotation fixes, which are for this data set's export tool only
    extra = {str(folder): _add_extra_train(dataset, parts["train"], folder, extra_repeat)
             for folder in extra_train or []}
    gun_free = None
    if gun_free_share or negatives:
        try:
            gun_free = _gun_free_train(dataset, parts["train"], given_boxes, gun_free_share, negatives,
                                       out / "gun-free", seed)
        except ValueError as exc:
            raise PrepareError(str(exc)) from exc

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    (out / "backup").mkdir(exist_ok=True)
    taken: set[str] = set()
    linked: list[Path] = []
    for sample in dataset.samples:
        name = _link_name(sample, taken)
        link = out / "images" / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(sample.image.resolve(), link)
        (out / "labels" / Path(name).with_suffix(".txt")).write_text(
            "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in sample.boxes))
        linked.append(link.absolute())
    split_of = {}
    for part, indices in parts.items():
        (out / f"{part}.txt").write_text("".join(f"{linked[i]}\n" for i in indices))
        split_of.update({i: part for i in indices})
    (out / "obj.names").write_text("".join(f"{n}\n" for n in dataset.names))
    valid_part = next((p for p in ("valid", "test") if p in parts), None)
    # with a train split only, no valid= line: darknet and `gunwatch train run` then keep the
    # final weights instead of scoring backups on a list that does not exist
    valid_line = f"valid={out.absolute() / (valid_part + '.txt')}\n" if valid_part else ""
    (out / "obj.data").write_text(
        f"classes={len(dataset.names)}\ntrain={out.absolute() / 'train.txt'}\n"
        f"{valid_line}names={out.absolute() / 'obj.names'}\nbackup={out.absolute() / 'backup'}\n")
    with open(out / "splits.csv", "w") as fh:
        fh.write("file,split,source\n")
        for i, sample in enumerate(dataset.samples):
            fh.write(f"{linked[i].name},{split_of.get(i, '')},{sample.image}\n")
    report = {"source": str(source), "format": dataset.format, "names": dataset.names,
              "images": len(dataset.samples), "problems": dict(counts), "dropped": len(bad) if drop else 0,
              "fixed": fix, "split": split, "groups": groups,
              "parts": {p: len(i) for p, i in parts.items()}, "rotated": rotated, "gun_free": gun_free,
              "extra_train": extra or None,
              "examples": {kind: [d for s in dataset.samples for k, d in s.problems if k == kind][:20]
                           for kind in counts if kind != "images without boxes"}}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return Prepared(out, counts, report["parts"], report["dropped"], groups, rotated, gun_free, extra or None)


def _add_extra_train(dataset: Dataset, train: list[int], folder: Path, repeat: int) -> dict:
    """Append the train part of an import-external output (``images/train`` with
    ``labels/train``; its ``heldout`` part is never read, it scores the model) to the train split,
    each picture ``repeat`` times: a few hundred camera pictures beside ten thousand close-ups
    would otherwise hardly weigh in a batch. Imports write every gun as class 0, so this data
    set's class 0 must be the gun."""
    if repeat < 1:
        raise PrepareError(f"--extra-repeat {repeat}: must be 1 or more (times each picture is listed)")
    if not (folder / "images" / "train").is_dir():
        raise PrepareError(f"--extra-train {folder}: no images/train/ in it; give the output folder "
                           "of `gunwatch train import-external`")
    if not dataset.names or dataset.names[0] != "gun":
        raise PrepareError(f"--extra-train {folder}: its boxes are guns as class 0, but this data set's "
                           f"class 0 is {dataset.names[0] if dataset.names else 'unnamed'!r}; "
                           "use --class-names gun")
    imported = load_yolo(folder, ["gun"])
    pictures = [s for s in imported.samples if s.image.parent.name == "train"]
    broken = [f"{s.image.name}: {detail}" for s in pictures for _, detail in s.problems]
    broken += [f"{s.image.name}: class {b[0]}" for s in pictures for b in s.boxes if b[0] != 0]
    if broken:
        raise PrepareError(f"--extra-train {folder}: {len(broken)} unusable labels, e.g. {broken[0]}; "
                           "import the source again with `gunwatch train import-external`")
    for sample in pictures:
        dataset.samples.append(sample)
        train.extend([len(dataset.samples) - 1] * repeat)
    return {"pictures": len(pictures), "gun_boxes": sum(len(s.boxes) for s in pictures),
            "train_lines": len(pictures) * repeat}


def _gun_free_train(dataset: Dataset, train: list[int], given_boxes: dict[int, list], share: float,
                    negatives: Path | None, out_dir: Path, seed: int) -> dict:
    """Append gun-free train samples (no boxes): every picture of the ``negatives`` folder, then
    enough train pictures painted out (chosen with ``seed``) that gun-free pictures make up
    ``share`` of the train list. Painted copies are of the data set's own pictures, not of the
    upright copies, so a picture and its turned-back twin are never both painted."""
    from .external import source_stem
    from .negatives import can_paint_out, choose, folder_pictures, painted_count, read_still_armed, write_painted

    already = sum(1 for i in train if not dataset.samples[i].boxes)
    added = folder_pictures(negatives) if negatives else []
    for path in added:
        dataset.samples.append(Sample(path))
        train.append(len(dataset.samples) - 1)
    count = painted_count(len(train), already + len(added), share)
    candidates = [i for i, boxes in given_boxes.items() if boxes and can_paint_out(boxes)]
    armed = read_still_armed()
    avoid = {i for i in candidates if source_stem(dataset.samples[i].image.name) in armed}
    chosen = choose(candidates, count, seed, avoid)
    if chosen:
        out_dir.mkdir(parents=True, exist_ok=True)
    for i in chosen:
        path = write_painted(dataset.samples[i].image, given_boxes[i], out_dir)
        dataset.samples.append(Sample(path, size=dataset.samples[i].size))
        train.append(len(dataset.samples) - 1)
    return {"train_pictures": len(train), "gun_free": already + len(added) + len(chosen),
            "already_gun_free": already, "from_folder": len(added), "painted_out": len(chosen),
            "not_painted_still_armed": len(avoid),
            "share": round((already + len(added) + len(chosen)) / len(train), 4) if train else 0.0}


def _rotated_train(dataset: Dataset, train: list[int], *, tighten: bool, upright_dir: Path | None) -> dict:
    """Mend the train pictures that an export tool rotated (see rotated_boxes). With ``tighten``
    their envelope boxes become ellipse boxes; with ``upright_dir`` each is also turned back
    and written there with its exact original boxes, as an extra train sample (appended to
    ``dataset.samples`` and ``train``). Only train: export tools augment the train split alone,
    and valid/test labels must stay what the annotators drew."""
    import cv2

    from .rotated_boxes import MIN_DEGREES, estimate_rotation, tighten as tighten_boxes, upright

    if upright_dir is not None:
        upright_dir.mkdir(parents=True, exist_ok=True)
    # boxes: how many tighten changed (boxes on the border stay); upright: copies written;
    # upright_skipped: rotated pictures that cannot be turned back (see rotated_boxes.upright)
    found = {"pictures": len(train), "rotated": 0, "not_rotated": 0, "unknown": 0, "boxes": 0,
             "area_before": 0.0, "area_after": 0.0, "upright": 0, "upright_skipped": 0}
    for i in list(train):
        sample = dataset.samples[i]
        image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        if image is None or not sample.boxes:
            continue
        rotation = estimate_rotation(image)
        if rotation.degrees is None:
            found["unknown"] += 1
            continue
        if abs(rotation.degrees) < MIN_DEGREES:
            found["not_rotated"] += 1
            continue
        found["rotated"] += 1
        if upright_dir is not None:
            turned_back = upright(image, sample.boxes, rotation.degrees)
            if turned_back is None:
                found["upright_skipped"] += 1
            else:
                path = upright_dir / f"{sample.image.stem}.upright.jpg"
                if not cv2.imwrite(str(path), turned_back[0], [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"{path}: cannot write the turned-back picture")
                dataset.samples.append(Sample(path, turned_back[1], size=sample.size))
                train.append(len(dataset.samples) - 1)
                found["upright"] += 1
        if tighten:
            height, width = image.shape[:2]
            new = tighten_boxes(sample.boxes, rotation.degrees, width, height)
            found["boxes"] += sum(a != b for a, b in zip(sample.boxes, new))
            found["area_before"] += sum(w * h for _, _, _, w, h in sample.boxes)
            found["area_after"] += sum(w * h for _, _, _, w, h in new)
            sample.boxes = new
    before = found.pop("area_before")
    found["area_ratio"] = round(found.pop("area_after") / before, 4) if before else 1.0
    return found
