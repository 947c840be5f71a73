"""Contact sheets of an export's gun-like boxes, for a person to review by eye which source
pictures show only handguns (the review file of a reviewed source in external.py SOURCES).

Every picture with a box of the source's gun classes is read from the bare mirror; Roboflow's
augmented copies are grouped by source picture (external.source_stem) and one copy per source
picture is shown, a valid/test copy when there is one (those are not augmented). A source name
whose files cannot all come from one picture (a short name like ``107`` reused by several
uploads: files in two splits, several valid/test files, more train files than the augmentation
makes) shows every copy, since its verdict will cover all of them.

Each box becomes a 160x160 tile: the box padded to twice its size (at least 96 px of the
picture), the box outlined in red, labelled ``SSSS-B`` (source picture SSSS, box B) or
``SSSS.C-B`` (copy C of a source name that shows several). Tiles go 48 to a sheet, ordered by
source name, and a source picture's tiles never straddle two sheets. OUT/index.csv maps each
tile to its file and box.

A second pass looks again at the pictures a first review left ``unsure``, larger: ``--verdicts
unsure --tile 320`` shows only the source pictures with that verdict in the source's review file,
12 tiles of 320 px to a sheet (SSSS keeps its number from the full pass).

    python -m gunwatch.training.data.review_sheets MIRROR.git --out /var/tmp/gunwatch-review
    python -m gunwatch.training.data.review_sheets MIRROR.git --out /var/tmp/gunwatch-unsure \
        --verdicts unsure --tile 320
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from .external import (
    REVIEWS, SOURCES, VERDICTS, BlobReader, Source, export_pictures, label_path, open_export,
    parse_label, read_names, read_reviews, source_stem,
)

TILE = 160
MIN_CROP = 96          # px of the picture around a small box: the hand and arm tell a gun from a phone
SHEET_PX = (8 * TILE, 6 * TILE)  # tiles of any size fill about the same page (8x6 of 160, 4x3 of 320)
LABEL_H = 18           # strip under each tile for its id
GAP = 4
HEADER_H = 24
# "2 versions of each source image" in train (the export's README.roboflow.txt).
TRAIN_COPIES = 2


def split_of(path: str) -> str:
    """The export split a picture lies in: the folder above its images/ folder."""
    return PurePosixPath(path).parts[-3]


def one_picture(paths: list[str], train_copies: int) -> bool:
    """Whether all files of one source name can be copies of a single picture: Roboflow puts a
    picture in one split, once in valid/test, ``train_copies`` times in train."""
    splits = Counter(split_of(p) for p in paths)
    if len(splits) != 1:
        return False
    split, count = splits.popitem()
    return count <= (train_copies if split == "train" else 1)


def gun_boxes(source: Source, files: dict[str, str], reader: BlobReader) -> dict[str, list[tuple]]:
    """Export picture path -> its boxes of the source's gun classes, for pictures with any."""
    names = [n.lower() for n in read_names(files, source.root, reader, source.names_file)]
    gun_ids = {i for i, n in enumerate(names) if n in source.gun_classes}
    boxes = {}
    for path in export_pictures(files):
        label = files.get(label_path(path))
        found = [b for b in parse_label(reader.read(label).decode()) if b[0] in gun_ids] if label else []
        if found:
            boxes[path] = found
    return boxes


def shown_pictures(all_pictures: list[str], with_boxes: dict[str, list], train_copies: int
                   ) -> list[tuple[str, list[str]]]:
    """(source name, pictures to show), ordered by source name."""
    by_source = defaultdict(list)
    for path in all_pictures:
        by_source[source_stem(PurePosixPath(path).name)].append(path)
    shown = []
    for name in sorted(by_source):
        copies = sorted((p for p in by_source[name] if p in with_boxes),
                        key=lambda p: (split_of(p) == "train", p))
        if copies:
            shown.append((name, copies[:1] if one_picture(by_source[name], train_copies) else copies))
    return shown


def box_pixels(box: tuple, picture: np.ndarray) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of a YOLO box in the picture's pixels."""
    h, w = picture.shape[:2]
    _, cx, cy, bw, bh = box
    return (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h


def tile(picture: np.ndarray, box: tuple, label: str, size: int = TILE) -> np.ndarray:
    """The box's crop with context, outlined, with its label under it."""
    h, w = picture.shape[:2]
    x0, y0, x1, y1 = box_pixels(box, picture)
    side = int(round(max(2 * (x1 - x0), 2 * (y1 - y0), MIN_CROP)))
    # shift the crop inside the picture where it fits, so an edge box keeps its context
    left = int(min(max((x0 + x1 - side) / 2, 0), w - side)) if side <= w else (w - side) // 2
    top = int(min(max((y0 + y1 - side) / 2, 0), h - side)) if side <= h else (h - side) // 2
    padded = cv2.copyMakeBorder(picture, side, side, side, side, cv2.BORDER_CONSTANT,
                                value=(128, 128, 128))
    crop = padded[top + side:top + 2 * side, left + side:left + 2 * side]
    scale = size / side
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    cv2.rectangle(out, (int((x0 - left) * scale), int((y0 - top) * scale)),
                  (int((x1 - left) * scale), int((y1 - top) * scale)), (0, 0, 255), 1)
    cell = np.full((size + LABEL_H, size, 3), 255, np.uint8)
    cell[:size] = out
    cv2.putText(cell, label, (3, size + LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    return cell


def grid(size: int) -> tuple[int, int]:
    """Columns and rows of a sheet of ``size`` px tiles."""
    return max(1, SHEET_PX[0] // size), max(1, SHEET_PX[1] // size)


def sheet(cells: list[np.ndarray], title: str, size: int = TILE) -> np.ndarray:
    columns, rows = grid(size)
    cell_w, cell_h = size + GAP, size + LABEL_H + GAP
    page = np.full((HEADER_H + rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    cv2.putText(page, title, (4, HEADER_H - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, cell in enumerate(cells):
        y, x = HEADER_H + (i // columns) * cell_h, (i % columns) * cell_w
        page[y:y + size + LABEL_H, x:x + size] = cell
    return page


def pages(groups: list[list], per_page: int) -> list[list]:
    """Groups of tiles packed into pages in order, a group that does not fit in what is left of a
    page starting the next one (a group larger than a page fills whole pages)."""
    out: list[list] = [[]]
    for group in groups:
        if out[-1] and len(out[-1]) + len(group) > per_page:
            out.append([])
        for item in group:
            if len(out[-1]) == per_page:
                out.append([])
            out[-1].append(item)
    return out


def make_sheets(git_dir: Path, out: Path, source_name: str = "cctv-guns", commit: str = "HEAD",
                train_copies: int = TRAIN_COPIES, verdicts: tuple[str, ...] = (),
                size: int = TILE) -> dict[str, int]:
    """Write OUT/sheets/sheet-NNN.png and OUT/index.csv; the counts of what they show. With
    ``verdicts``, only the source pictures the source's review file gives one of them."""
    git_dir, out = Path(git_dir), Path(out)
    source = SOURCES[source_name]
    reviewed = read_reviews(REVIEWS / source.review_file) if verdicts else {}
    _, files = open_export(source, git_dir, commit)
    (out / "sheets").mkdir(parents=True, exist_ok=True)
    for old in (out / "sheets").glob("sheet-*.png"):
        old.unlink()
    rows = []
    with BlobReader(git_dir) as reader:
        with_boxes = gun_boxes(source, files, reader)
        numbered = list(enumerate(shown_pictures(export_pictures(files), with_boxes, train_copies), start=1))
        if verdicts:
            numbered = [(n, (name, pictures)) for n, (name, pictures) in numbered
                        if reviewed.get(name) in verdicts]
        shown = [pair for _, pair in numbered]
        groups = [[(f"{number:04d}{'' if len(pictures) == 1 else f'.{c}'}-{b}", name, path, b, box)
                   for c, path in enumerate(pictures, start=1)
                   for b, box in enumerate(with_boxes[path], start=1)]
                  for number, (name, pictures) in numbered]
        columns, rows_per_sheet = grid(size)
        sheets = pages(groups, columns * rows_per_sheet)
        for page_no, tiles in enumerate(sheets, start=1):
            cells = []
            for tile_id, name, path, b, box in tiles:
                picture = cv2.imdecode(np.frombuffer(reader.read(files[path]), np.uint8), cv2.IMREAD_COLOR)
                cells.append(tile(picture, box, tile_id, size))
                rows.append([tile_id, f"sheet-{page_no:03d}", name, split_of(path), PurePosixPath(path).name,
                             b, *(round(v) for v in box_pixels(box, picture))])
            title = f"sheet-{page_no:03d}  {tiles[0][0]} .. {tiles[-1][0]}  ({source_name})"
            cv2.imwrite(str(out / "sheets" / f"sheet-{page_no:03d}.png"), sheet(cells, title, size))
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["tile_id", "sheet", "source_image", "split", "file", "box", "x0", "y0", "x1", "y1"])
        writer.writerows(rows)
    return {"pictures with a box": len(with_boxes), "source pictures": len(shown),
            "source names showing several pictures": sum(len(p) > 1 for _, p in shown),
            "pictures shown": sum(len(p) for _, p in shown), "tiles": len(rows), "sheets": len(sheets)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="review_sheets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mirror", type=Path, help="bare git repository of the source")
    ap.add_argument("--out", type=Path, default=Path("/var/tmp/gunwatch-review"))
    ap.add_argument("--source", default="cctv-guns", choices=[n for n, s in SOURCES.items() if s.review_file])
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--train-copies", type=int, default=TRAIN_COPIES,
                    help="augmented copies Roboflow wrote per train picture")
    ap.add_argument("--verdicts", nargs="+", choices=VERDICTS, default=(),
                    help="only source pictures with these verdicts in the source's review file")
    ap.add_argument("--tile", type=int, default=TILE, help="tile side in px (a sheet holds fewer when larger)")
    args = ap.parse_args(argv)
    counts = make_sheets(args.mirror, args.out, args.source, args.commit, args.train_copies,
                         tuple(args.verdicts), args.tile)
    for key, value in counts.items():
        print(f"{key}: {value}")
    print(f"{args.out / 'sheets'}/sheet-001.png .. sheet-{counts['sheets']:03d}.png, "
          f"{args.out / 'index.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
