"""`gunwatch eval`: a model's accuracy on a labelled split, as darknet's `detector map` reports it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..detectors.select import AUTO, backend_names
from ..errors import ConfigError, SourceError
from . import options

DESCRIPTION = """\
Measure a model on labelled images: mAP@0.50 and the rest of darknet's `detector map` report
(per-class AP with TP/FP; precision, recall, F1, TP/FP/FN and average IoU at conf_thresh 0.25;
mAP@0.50), plus mAP@0.50:0.95 (COCO's IoU range) and optionally a precision/recall chart.

The pictures go through gunwatch's own detector backends, decoded and letterboxed as the plugin
does it, so the figure is what `gunwatch run` will find. As in darknet's map, every detection
above 0.005 after NMS 0.45 counts for the AP, and a detection is a true positive when its best
truth of the same class overlaps it by more than IoU 0.50 and was not taken by a more confident
detection. Average IoU is darknet's: the true positives' IoUs summed over TP + FP.

DATA is an obj.data file, a folder from `gunwatch train prepare`, or a YOLO data set folder
(images/ + labels/, splits in splits.csv). --split picks obj.data's train/valid/test list (or
<split>.txt beside it), or the splits.csv rows of that split; `all` takes every image of a data
set folder."""

EXAMPLES = """\
examples:
  gunwatch eval --data ../shared/datasets/pistols --split test
  gunwatch eval --data out/pistols/obj.data --split valid --model out/run1/bundle --json
  gunwatch eval --data ../shared/datasets/pistols --split test --limit 20 --pr-curve pr.png
  gunwatch eval --data out/pistols --split valid --model ../shared/weights/yolov3-tiny.cfg \\
      --names ../shared/weights/coco.names

--json prints one object: map50, map50_95, precision, recall, f1, tp, fp, fn, avg_iou (0..1,
all at --conf-thresh), images, detections_count, unique_truth_count, classes (per class: ap,
ap50_95, tp, fp, truths, detections), recall_by_size (truths found at --conf-thresh per box size,
the square root of the share of the picture a box covers: <0.10, 0.10-0.25, 0.25-0.50, >=0.50;
with area_ratio, the median detected/true area of the box drawn on each truth, above 1 when the
model draws loose boxes),
model, backend, thresh, nms, seconds, failed.

exit status: 0 measured, 1 measured but some images could not be read (named on stderr),
2 usage, data or model error, 3 no backend can run the model."""


def add_parser(sub) -> None:
    parser = sub.add_parser("eval", help="measure a model on a labelled split (darknet map report)",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, metavar="DATA",
                        help="obj.data, a prepared folder, or a YOLO data set folder")
    parser.add_argument("--split", default="test", metavar="NAME",
                        help="train, valid, test (default) or all")
    options.add_model_options(parser)
    parser.add_argument("--backend", default=AUTO, choices=[AUTO, *backend_names()],
                        help="detector engine (default auto: the faster one here)")
    group = parser.add_argument_group("thresholds (darknet map's defaults)")
    group.add_argument("--thresh", type=options.unit_interval, default=0.005, metavar="T",
                       help="lowest confidence that enters the AP (default 0.005)")
    group.add_argument("--nms", type=options.unit_interval, default=0.45, metavar="T",
                       help="NMS IoU (default 0.45)")
    group.add_argument("--conf-thresh", type=options.unit_interval, default=0.25, metavar="C",
                       help="confidence for TP/FP, precision, recall, F1, average IoU (default 0.25)")
    parser.add_argument("--limit", type=options.positive_int, metavar="N",
                        help="only the first N images of the split (in list order)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--pr-curve", type=Path, metavar="FILE", help="write the PR chart as PNG")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..training.data.datasource import open_data
    from ..training.metrics.report import evaluate_model, format_darknet_report

    try:
        pairs = open_data(args.data).pairs(args.split)[: args.limit]
    except OSError as exc:
        raise ConfigError(str(exc)) from exc
    if not pairs:
        raise ConfigError(f"{args.data}: split {args.split!r} has no images")
    model = options.load(args)
    try:
        result = evaluate_model(model, pairs, args.backend, thresh=args.thresh, nms=args.nms,
                                conf_thresh=args.conf_thresh, darknet_lib=args.darknet_lib,
                                progress=None if not args.json else False)
    except ValueError as exc:  # labels that do not fit the model's classes
        raise ConfigError(f"{args.data}: {exc}") from exc
    if args.pr_curve:
        from ..training.metrics.pr_curve import draw_pr_curve

        try:
            draw_pr_curve(result, args.pr_curve)
        except OSError as exc:
            raise SourceError(str(exc)) from exc
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "pr_curve"}))
    else:
        print(format_darknet_report(result), end="")
    print(f"{result['images']} images of {args.data} ({args.split}), model {result['model']}, "
          f"{result['backend']} backend, {result['seconds']} s", file=sys.stderr)
    for path, reason in result["failed"]:
        print(f"  not read: {path}: {reason}", file=sys.stderr)
    return 1 if result["failed"] else 0
