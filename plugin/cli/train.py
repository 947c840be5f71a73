"""`gunwatch train ...`: the training tools (data set preparation now; cfg, runs and evaluation
as they land)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError

PREPARE = """\
Import a labelled data set (YOLO txt as images/ + labels/, Pascal VOC, or a COCO .json), check
it (missing, empty, malformed or out-of-range labels, degenerate boxes, unreadable images,
class ids beyond the names) and split it, writing a darknet training folder: obj.data,
obj.names, train.txt, valid.txt, labels/, images/ (links), splits.csv and report.json.

Splits: `seed` is the seed study's train_test_split(test_size=0.2, random_state=1), reproducible;
with --group-column/--group-pattern/--near-duplicates it splits groups of images instead, so
augmented copies or near-duplicates of one picture never straddle train and test. `file` keeps
the split of the data set's splits.csv (train/valid/test)."""

EXAMPLES = """\
examples:
  gunwatch train prepare ../shared/datasets/pistols out/pistols --class-names gun \\
      --group-column source_image --near-duplicates ../shared/datasets/pistols/near_duplicates.csv
  gunwatch train prepare ../shared/datasets/pistols out/pistols-given --class-names gun --split file
  gunwatch train prepare ~/voc-guns out/voc --fix --drop

exit status: 0 written, 2 the data set has problems (the message counts them and names one)."""


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="training tools: prepare a data set, ...",
                            description="Training tools for darknet gun models.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    prep = verbs.add_parser("prepare", help="check, fix and split a data set into a darknet folder",
                            description=PREPARE, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    prep.add_argument("source", type=Path, help="data set folder, or a COCO .json file")
    prep.add_argument("out", type=Path, help="folder to write")
    prep.add_argument("--names", type=Path, metavar="FILE", help="class names file")
    prep.add_argument("--class-names", metavar="A,B", help="class names, comma-separated (instead of --names)")
    prep.add_argument("--split", choices=["seed", "file"], default="seed")
    prep.add_argument("--splits-csv", type=Path, metavar="FILE", help="default: splits.csv in the data set")
    prep.add_argument("--group-column", metavar="NAME", help="splits.csv column naming each image's source picture")
    prep.add_argument("--group-pattern", metavar="REGEX", help="images whose names match the same "
                      "(first group of) REGEX stay together")
    prep.add_argument("--near-duplicates", type=Path, metavar="CSV", help="file_a,file_b pairs that stay together")
    prep.add_argument("--fix", action="store_true", help="clip boxes into the image, drop unrepairable boxes")
    prep.add_argument("--drop", action="store_true", help="leave out images that still have problems")
    prep.add_argument("--no-decode", action="store_true", help="skip decoding every image (faster, "
                      "misses corrupt files)")
    prep.set_defaults(run=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from ..training.dataset import DatasetError
    from ..training.prepare import PrepareError, prepare

    try:
        result = prepare(args.source, args.out, names_file=args.names,
                         class_names=args.class_names.split(",") if args.class_names else None,
                         split=args.split, splits_csv=args.splits_csv, group_column=args.group_column,
                         group_pattern=args.group_pattern, near_duplicates=args.near_duplicates,
                         fix=args.fix, drop=args.drop, decode=not args.no_decode)
    except (DatasetError, PrepareError, OSError) as exc:
        raise ConfigError(str(exc)) from exc
    problems = ", ".join(f"{k}: {n}" for k, n in result.counts.most_common() if n) or "none"
    print(f"{args.out}: {', '.join(f'{p} {n}' for p, n in result.splits.items())} images "
          f"({result.groups} groups); problems: {problems}; dropped {result.dropped}", file=sys.stderr)
    print(args.out / "obj.data")
    return 0
