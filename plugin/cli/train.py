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
the split of the data set's splits.csv (train/valid/test).

Rotated exports: tools such as Roboflow rotate train pictures on their own canvas (black
corners) and label each object with the envelope of its turned box, which is far looser than the
object (a 2:1 box turned 30 degrees doubles its area). A detector fitted on those labels draws
loose boxes that fail IoU 0.5 on real pictures. --tighten-rotated reads each train picture's angle
from its corners and replaces its boxes by the envelope of the ellipse inscribed in the original
box. --upright-rotated also turns each rotated train picture back (its cut-off corners come back
black) and adds it to train.txt with the boxes it had before the turn, exact where the ellipse
box is a guess: the detector then also learns from upright pictures, as valid and test pictures
and cameras are. Valid and test labels are never changed. report.json's "rotated" says how many.

Gun-free pictures: a model that only ever saw guns fires on the hands and rooms around them.
--gun-free-share S paints the guns out of train pictures (chosen with --seed, inpainted from
their surroundings into OUT/gun-free/, empty labels) until gun-free pictures are S of train.txt;
--negatives DIR first adds every picture of DIR (recursively) as gun-free. Only train.txt gets
them: valid and test stay the annotators' pictures. report.json's "gun_free" says how many.

More gun pictures: --extra-train DIR (repeatable) adds the train part of a `gunwatch train
import-external` output (DIR/images/train with its labels, guns as class 0) to train.txt; its
held-back part stays out, to score on; --extra-repeat N lists each of its pictures N times (a few
hundred camera pictures hardly weigh beside ten thousand close-ups). report.json's "extra_train"
counts pictures, boxes and train.txt lines."""

EXAMPLES = """\
examples:
  gunwatch train prepare ../shared/datasets/pistols out/pistols --class-names gun \\
      --group-column source_image --near-duplicates ../shared/datasets/pistols/near_duplicates.csv
  gunwatch train prepare ../shared/datasets/pistols out/pistols-given --class-names gun --split file
  gunwatch train prepare ../shared/datasets/pistols out/pistols-tight --class-names gun --split file \\
      --tighten-rotated --upright-rotated
  gunwatch train prepare ../shared/datasets/pistols out/pistols-neg --class-names gun --split file \\
      --tighten-rotated --upright-rotated --gun-free-share 0.25 --negatives ~/empty-rooms
  gunwatch train prepare ~/voc-guns out/voc --fix --drop

exit status: 0 written, 2 the data set has problems (the message counts them and names one)."""


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="training tools: prepare, config, run, autolabel, compare, "
                            "import-external",
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
    prep.add_argument("--tighten-rotated", action="store_true",
                      help="train pictures that an export tool turned on their canvas (black corners): "
                      "replace each loose envelope box by the box of the ellipse inscribed in the "
                      "original box (the angle is read from the corners)")
    prep.add_argument("--upright-rotated", action="store_true",
                      help="also turn those pictures back upright into OUT/upright/, with their "
                      "exact original boxes, and train on both")
    prep.add_argument("--gun-free-share", type=float, default=0.0, metavar="S",
                      help="paint the guns out of train pictures into OUT/gun-free/ (no labels) until "
                      "gun-free pictures are this share of train.txt, e.g. 0.25")
    prep.add_argument("--negatives", type=Path, metavar="DIR",
                      help="add every picture in DIR (recursively) to train.txt as gun-free (empty labels)")
    prep.add_argument("--extra-train", type=Path, action="append", metavar="DIR",
                      help="add the train part of an import-external output (gun pictures with their "
                      "boxes) to train.txt; repeatable")
    prep.add_argument("--extra-repeat", type=int, default=1, metavar="N",
                      help="list each --extra-train picture N times in train.txt (default 1)")
    prep.add_argument("--seed", type=int, default=0, help="which train pictures get painted out (default 0)")
    prep.set_defaults(run=run_prepare)
    add_run_parsers(verbs)
    add_tool_parsers(verbs)
    from .train_external import add_import_parser

    add_import_parser(verbs)


def run_prepare(args: argparse.Namespace) -> int:
    from ..training.data.prepare import prepare

    try:
        result = prepare(args.source, args.out, names_file=args.names,
                         class_names=args.class_names.split(",") if args.class_names else None,
                         split=args.split, splits_csv=args.splits_csv, group_column=args.group_column,
                         group_pattern=args.group_pattern, near_duplicates=args.near_duplicates,
                         fix=args.fix, drop=args.drop, decode=not args.no_decode,
                         tighten_rotated=args.tighten_rotated, upright_rotated=args.upright_rotated,
                         gun_free_share=args.gun_free_share, negatives=args.negatives,
                         extra_train=args.extra_train, extra_repeat=args.extra_repeat, seed=args.seed)
    except OSError as exc:
        raise ConfigError(str(exc)) from exc
    problems = ", ".join(f"{k}: {n}" for k, n in result.counts.most_common() if n) or "none"
    print(f"{args.out}: {', '.join(f'{p} {n}' for p, n in result.splits.items())} images "
          f"({result.groups} groups); problems: {problems}; dropped {result.dropped}", file=sys.stderr)
    if result.rotated is not None:
        r = result.rotated
        done = []
        if args.tighten_rotated:
            done.append(f"tightened {r['boxes']} boxes (train box area x {r['area_ratio']}; boxes on "
                        "the border kept)")
        if args.upright_rotated:
            done.append(f"turned {r['upright']} back upright ({r['upright_skipped']} not: a box on "
                        "the border or a label that does not invert)")
        print(f"{r['rotated']} rotated train pictures: {'; '.join(done)}; {r['not_rotated']} not "
              f"rotated, {r['unknown']} with corners that fit no rotation (left as they were)",
              file=sys.stderr)
    if result.gun_free is not None:
        g = result.gun_free
        print(f"gun-free train pictures: {g['gun_free']} of {g['train_pictures']} ({g['share']:.1%}): "
              f"{g['painted_out']} painted out, {g['from_folder']} from --negatives, "
              f"{g['already_gun_free']} already without boxes; {g['not_painted_still_armed']} not painted "
              "out: marked as still showing a gun (training/data/reviews/pistols-painted-out.csv)", file=sys.stderr)
    for folder, added in (result.extra or {}).items():
        print(f"--extra-train {folder}: {added['pictures']} train pictures, {added['gun_boxes']} gun boxes, "
              f"{added['train_lines']} train.txt lines", file=sys.stderr)
    print(args.out / "obj.data")
    return 0


RUN = """\
Train a darknet model in a run folder, with Debian's darknet CLI (`--engine darknet`, the seed
study's way: `darknet detector train`) or the PyTorch trainer (`--engine torch`, about 11x faster
on a CPU; needs `pip install torch`). Starts from pretrained weights: where the cfg differs from
the weights' own cfg (found beside them, or --weights-cfg), the backbone is cut with `darknet
partial` at the first layer that differs (conv.15 for yolov3-tiny).

The progress bar shows iteration, loss, avg loss and ETA; everything the engine prints goes to
RUN/train.log. Ctrl-C or SIGTERM stops the engine between weight saves and leaves the run
resumable: darknet resumes from its newest complete backup (every 100 iterations, and
BASE_N.weights every 100 until 1000, then every 10000), torch from its last checkpoint (each
minute). Writes RUN/loss.csv, RUN/loss.png (loss and valid mAP vs batch) and RUN/bundle/
(model.cfg, model.weights, names, model.json, training/) with the weights that score best on
the data's valid list (darknet: its backups are scored when training ends; torch: scored while
it trains). Prints the bundle folder.

--iterations also moves the lr steps to 80% and 90% of it and caps burn_in at a tenth of it.
pjreddie's random=1 trains at 320..608 whatever --size says: use --no-random with --size.

RUN may be anywhere, e.g. /var/tmp/gunwatch-train/NAME, outside a checkout that is laid anew:
the run copies the data's train and valid lists into itself, keeps its settings in run.json and
the torch engine's checkpoints (weights, optimizer state, moving average) in last.weights and
last.pt. `--resume` then continues with the same schedule, the same batches and the same
augmentation: the torch engine derives each batch's pictures and random draws from the
iteration number alone. The pictures themselves must still be where the lists say."""

RUN_EXAMPLES = """\
examples:
  gunwatch train run runs/gun1 --data out/pistols/obj.data --cfg gun.cfg \\
      --weights ../shared/weights/yolov3-tiny.weights
  gunwatch train run runs/gun1 --resume                 # after Ctrl-C, a crash or a reboot
  gunwatch train run runs/quick --engine torch --data out/pistols/obj.data --cfg gun.cfg \\
      --weights ../shared/weights/yolov3-tiny.weights --iterations 200 --size 320
  gunwatch train run /var/tmp/gunwatch-train/v4 --engine torch --data out/pistols-neg/obj.data \\
      --cfg v4.cfg --weights ../shared/weights/yolov4-tiny.weights --iterations 6000 \\
      --unfreeze-at 200 --multi-scale 320 --ema 0.995 --zoom-out 0.25 --bf16 --eval-every 200
  gunwatch train run /var/tmp/gunwatch-train/v4 --resume
  gunwatch detect --model runs/gun1/bundle picture.jpg

exit status: 0 trained and bundled, 2 bad settings or data (the message names the file),
3 the engine is missing (darknet CLI or torch), 130 interrupted (resumable)."""

COMPARE = """\
The seed study's experiment in one command: train the same cfg with the same settings twice, on
the manual labels of DATA's training images and on labels made for the same images by
--label-model (`train autolabel`), then evaluate both models on the same manually labelled
test images (DATA's test list: test= in the data file, test.txt beside it, else valid=) and
print the side-by-side table: mAP@0.50, precision, recall, F1 and avg IoU at --conf-thresh, and
the final avg loss. OUT holds auto-labels/, manual/ and auto/ (two `train run` folders),
compare.json and compare.md. Running it again continues where it stopped (runs resume)."""

COMPARE_EXAMPLES = """\
examples:
  gunwatch train compare runs/cmp --data out/pistols/obj.data --cfg gun.cfg \\
      --weights ../shared/weights/yolov3-tiny.weights --label-model gun-yolov3-tiny
  gunwatch train compare runs/cmp-small --engine torch --iterations 100 --size 320 ... # a quick one

exit status: 0 compared, 2 bad settings or data, 3 an engine or detector backend is missing,
130 interrupted (run it again to continue)."""


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, metavar="OBJ.DATA", help="data file from `gunwatch train prepare`")
    p.add_argument("--cfg", type=Path, metavar="CFG", help="darknet cfg with the data's class count "
                   "(`gunwatch train config`)")
    p.add_argument("--weights", type=Path, metavar="FILE", help="pretrained weights (full or partial); "
                   "none: random start")
    p.add_argument("--weights-cfg", type=Path, metavar="CFG", help="the cfg --weights were saved with "
                   "(default: FILE.cfg beside them, or model.cfg in a bundle)")
    p.add_argument("--engine", choices=["darknet", "torch"], default="darknet")
    p.add_argument("--iterations", type=int, metavar="N", help="batches to train (max_batches; "
                   "default: the cfg's)")
    p.add_argument("--batch", type=int, metavar="N", help="images per batch (default: the cfg's)")
    p.add_argument("--subdivisions", type=int, metavar="N", help="darknet subdivisions (torch: "
                   "forward passes per batch)")
    p.add_argument("--size", type=int, metavar="PX", help="input width and height, a multiple of 32")
    rnd = p.add_mutually_exclusive_group()
    rnd.add_argument("--random", dest="random", action="store_true", default=None,
                     help="darknet multi-scale training (random=1)")
    rnd.add_argument("--no-random", dest="random", action="store_false", help="keep the input size (random=0)")
    p.add_argument("--darknet", default="darknet", metavar="PATH", help="darknet CLI (default: darknet on PATH)")
    p.add_argument("--threads", type=int, default=2, metavar="N", help="torch threads (default 2)")
    p.add_argument("--loader-threads", type=int, default=1, metavar="N",
                   help="torch: threads that decode and augment training pictures (default 1; "
                   "more on a GPU machine, where one thread cannot keep up)")
    p.add_argument("--unfreeze-at", type=int, metavar="N",
                   help="torch: train the frozen backbone too from iteration N on (default: frozen "
                   "for the whole run)")
    p.add_argument("--multi-scale", type=int, metavar="MIN",
                   help="torch: every 10 iterations a random input size from MIN to --size in steps of 32")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="torch: score and ship a moving average of the weights (0.995: about the "
                   "last 200 iterations)")
    p.add_argument("--zoom-out", type=float, metavar="P",
                   help="torch: share of pictures shrunk to 0.15-0.6 of the input side and pasted on "
                   "another picture (small, far guns)")
    p.add_argument("--bf16", action="store_true", default=None,
                   help="torch: forward and backward in bfloat16 autocast where the CPU has native "
                   "bfloat16 (AVX-512 BF16 or AMX; float32 elsewhere, said in the log; "
                   "benchmarks/train_step.py measures the gain)")
    p.add_argument("--eval-every", type=int, metavar="N",
                   help="torch: score on the valid list every N iterations (default 200, or the run's length)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="torch: picks each batch's pictures and its augmentation's random draws "
                   "(default 0). A run that continues another run's weights on the same data needs "
                   "another seed, or it sees that run's batches again in the same order")


def _run_settings(args: argparse.Namespace):
    from ..training.runs.darknet_run import RunSettings

    missing = [o for o, v in (("--data", args.data), ("--cfg", args.cfg)) if v is None]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} needed for a new run (or --resume an existing one)")
    if args.loader_threads < 1:
        raise ConfigError(f"--loader-threads {args.loader_threads}: must be 1 or more")
    if args.size is not None and (args.size <= 0 or args.size % 32):
        raise ConfigError(f"--size {args.size}: must be a positive multiple of 32")
    if args.multi_scale is not None and (args.multi_scale <= 0 or args.multi_scale % 32):
        raise ConfigError(f"--multi-scale {args.multi_scale}: must be a positive multiple of 32")
    if args.zoom_out is not None and not 0.0 <= args.zoom_out <= 1.0:
        raise ConfigError(f"--zoom-out {args.zoom_out}: a share of the pictures, from 0 to 1")
    if args.ema is not None and not 0.0 < args.ema < 1.0:
        raise ConfigError(f"--ema {args.ema}: a decay between 0 and 1, e.g. 0.995")
    return RunSettings(engine=args.engine, data=str(args.data.resolve()), cfg=str(args.cfg.resolve()),
                       weights=str(args.weights.resolve()) if args.weights else None,
                       weights_cfg=str(args.weights_cfg.resolve()) if args.weights_cfg else None,
                       iterations=args.iterations, batch=args.batch, subdivisions=args.subdivisions,
                       size=args.size, random=args.random, darknet=args.darknet, threads=args.threads,
                       loader_threads=args.loader_threads, unfreeze_at=args.unfreeze_at,
                       multi_scale=args.multi_scale, ema=args.ema, zoom_out=args.zoom_out or 0.0,
                       bf16=bool(args.bf16), eval_every=args.eval_every, seed=args.seed or 0,
                       name=getattr(args, "name", None), select=getattr(args, "select", "best"))


def _train_or_exit(work, interrupted_hint: str = ""):
    """Runs a training call, turning file errors into gunwatch's; None after Ctrl-C."""
    from ..training.runs.darknet_run import Interrupted

    try:
        return work()
    except Interrupted as exc:
        print(f"gunwatch: {exc}{interrupted_hint}", file=sys.stderr)
        return None
    except OSError as exc:
        raise ConfigError(str(exc)) from exc


def add_run_parsers(verbs) -> None:
    run = verbs.add_parser("run", help="train a model (darknet or torch), resumable, into a bundle",
                           description=RUN, epilog=RUN_EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("run_dir", type=Path, metavar="RUN", help="run folder (created; kept for --resume)")
    run.add_argument("--resume", action="store_true", help="continue RUN from its newest checkpoint "
                     "(its settings come from RUN/run.json; --iterations may extend it)")
    run.add_argument("--name", help="model name in model.json (default: the RUN folder's name)")
    run.add_argument("--select", choices=["best", "final"], default="best",
                     help="darknet: ship the backup with the best valid mAP@0.50 (each scored on the "
                     "data's valid list, default) or the final weights")
    _add_training_options(run)
    run.set_defaults(run=run_train)

    cmp_ = verbs.add_parser("compare", help="train on manual vs auto labels, evaluate both, print a table",
                            description=COMPARE, epilog=COMPARE_EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp_.add_argument("out", type=Path, metavar="OUT", help="folder for both runs and the report")
    cmp_.add_argument("--label-model", required=True, metavar="MODEL",
                      help="model that makes the auto labels (bundle folder, .cfg or bundled name)")
    cmp_.add_argument("--label-conf", type=float, default=0.5, metavar="P",
                      help="confidence an auto label needs (default 0.5)")
    cmp_.add_argument("--backend", choices=["auto", "opencv", "darknet", "torch"], default="auto",
                      help="detector backend for labelling and evaluation (default auto)")
    cmp_.add_argument("--conf-thresh", type=float, default=0.25, metavar="P",
                      help="threshold of precision, recall, F1, avg IoU (default 0.25, darknet's)")
    cmp_.add_argument("--test-limit", type=int, metavar="N", help="evaluate on the first N test images")
    _add_training_options(cmp_)
    cmp_.set_defaults(run=run_compare)


def run_train(args: argparse.Namespace) -> int:
    from ..training.runs.darknet_run import start_or_resume

    if args.resume:
        given = [o for o, v in (("--data", args.data), ("--cfg", args.cfg), ("--weights", args.weights),
                                ("--size", args.size), ("--batch", args.batch),
                                ("--unfreeze-at", args.unfreeze_at), ("--multi-scale", args.multi_scale),
                                ("--ema", args.ema), ("--zoom-out", args.zoom_out), ("--bf16", args.bf16),
                                ("--eval-every", args.eval_every), ("--seed", args.seed)) if v is not None]
        if given:
            raise ConfigError(f"--resume takes its settings from {args.run_dir / 'run.json'}; "
                              f"drop {', '.join(given)} (only --iterations may change)")
        settings = None
    else:
        settings = _run_settings(args)
    result = _train_or_exit(lambda: start_or_resume(args.run_dir, settings, resume=args.resume,
                                                    iterations=args.iterations))
    if result is None:
        return 130
    spi = f", {result.seconds_per_iteration:.2f} s/it" if result.seconds_per_iteration else ""
    loss = f"final avg loss {result.final_avg_loss:.4f}" if result.final_avg_loss is not None else "no loss"
    print(f"{args.run_dir}: {result.engine}, {result.iterations} iterations, {loss}{spi}; "
          f"bundle with {result.weights.name}", file=sys.stderr)
    print(result.bundle)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from ..training.runs.compare import compare, format_table

    if args.weights is None:
        raise ConfigError("--weights needed: both runs start from the same pretrained weights")
    settings = _run_settings(args)
    result = _train_or_exit(lambda: compare(args.out, settings, args.label_model, label_conf=args.label_conf,
                                            backend=args.backend, conf_thresh=args.conf_thresh,
                                            test_limit=args.test_limit),
                            interrupted_hint="; run the same compare command again to continue")
    if result is None:
        return 130
    print(format_table(result))
    return 0


CONFIG = """\
Write a darknet training cfg for yolov3 (darknet53, the seed study's network, 107 layers),
yolov3-tiny or yolov4-tiny, generated from the number of classes: filters = (classes + 5) * 3 in
front of each [yolo], the layers otherwise those of the published networks, so the COCO weights
(or darknet53.conv.74) load into it. [net] gets the seed study's training parameters unless
given: batch 64, subdivisions 16, 416x416, momentum 0.9, decay 0.0005, learning rate 0.001,
burn_in 1000, max_batches 2000 per class, steps at 80 % and 90 % of it.

Anchors are fitted to the training boxes as `darknet detector calc_anchors` does (k-means with
distance 1 - IoU, in network pixels, sorted by area; seeded, so the same data gives the same
anchors). The anchors and their average IoU with the boxes, next to the stock anchors', go to
stderr; the cfg to stdout or --out.

DATA is an obj.data file, a folder from `gunwatch train prepare`, or a YOLO data set folder;
its train split (every image where it has none) gives the boxes, and classes come from
obj.data's classes=, its names file, or the highest class id in the labels."""

CONFIG_EXAMPLES = """\
examples:
  gunwatch train config --data out/pistols/obj.data --arch yolov3-tiny --out gun.cfg
  gunwatch train config --data ../shared/datasets/pistols --arch yolov3 > gun-yolov3.cfg
  gunwatch train config --classes 3 --arch yolov4-tiny --anchors default --size 608

exit status: 0 written, 2 bad data or settings (the message names the file or option)."""

AUTOLABEL = """\
Label pictures with an existing model: every box above --conf becomes a YOLO label. Writes OUT
in the layout `gunwatch train prepare` reads: images/ (links to the pictures, sub-folders kept),
labels/ (class cx cy w h per box; an empty file for a picture with no box) and obj.names (the
model's classes). The seed study's auto-labelled model reached 73 % mAP against 82 % with hand
labels: check and correct the labels before trusting them."""

AUTOLABEL_EXAMPLES = """\
examples:
  gunwatch train autolabel ~/new-footage out/auto --model gun-yolov3-tiny --conf 0.5
  gunwatch train prepare out/auto out/auto-prepared --class-names gun

exit status: 0 written, 1 written but some pictures could not be read (named on stderr),
2 usage or model error, 3 no backend can run the model."""


def add_tool_parsers(verbs) -> None:
    from ..detectors.select import AUTO, backend_names
    from ..training.arch.cfg_gen import ARCHITECTURES
    from . import options

    cfg = verbs.add_parser("config", help="generate a darknet cfg (anchors fitted to the data)",
                           description=CONFIG, epilog=CONFIG_EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    cfg.add_argument("--data", metavar="DATA", help="obj.data, prepared folder or data set folder")
    cfg.add_argument("--arch", choices=ARCHITECTURES, default="yolov3-tiny",
                     help="network (default yolov3-tiny)")
    cfg.add_argument("--classes", type=options.positive_int, metavar="N",
                     help="number of classes (default: from DATA)")
    cfg.add_argument("--anchors", choices=["kmeans", "default"], default="kmeans",
                     help="kmeans: fitted to DATA's boxes (default); default: the stock cfg's")
    cfg.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")
    cfg.add_argument("--size", type=int, metavar="PX", help="input width and height (default 416)")
    cfg.add_argument("--batch", type=options.positive_int, default=64, metavar="N")
    cfg.add_argument("--subdivisions", type=options.positive_int, default=16, metavar="N")
    cfg.add_argument("--max-batches", type=options.positive_int, metavar="N",
                     help="iterations (default 2000 per class)")
    cfg.add_argument("--learning-rate", type=float, default=0.001, metavar="LR")
    cfg.add_argument("--burn-in", type=int, default=1000, metavar="N")
    cfg.add_argument("--out", type=Path, metavar="FILE", help="write the cfg here (default: stdout)")
    cfg.set_defaults(run=run_config)

    auto = verbs.add_parser("autolabel", help="label pictures with an existing model",
                            description=AUTOLABEL, epilog=AUTOLABEL_EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    auto.add_argument("images", type=Path, metavar="IMAGES_DIR", help="pictures (searched recursively)")
    auto.add_argument("out", type=Path, metavar="OUT_DIR", help="folder to write")
    options.add_model_options(auto)
    auto.add_argument("--backend", default=AUTO, choices=[AUTO, *backend_names()],
                      help="detector engine (default auto)")
    auto.add_argument("--conf", type=options.unit_interval, default=0.5, metavar="C",
                      help="confidence a box needs to become a label (default 0.5)")
    auto.add_argument("--nms", type=options.unit_interval, metavar="T", help="NMS IoU (default: the model's)")
    auto.set_defaults(run=run_autolabel)


def run_config(args: argparse.Namespace) -> int:
    from ..training.arch.anchors import DEFAULT_ANCHORS, fit_anchors, format_anchors
    from ..training.arch.cfg_gen import TrainParams, generate_cfg
    from ..training.data.datasource import ALL, open_data

    size = args.size or 416
    if size <= 0 or size % 32:
        raise ConfigError(f"--size {size}: must be a positive multiple of 32")
    if args.batch % args.subdivisions:
        raise ConfigError(f"--batch {args.batch} must be a multiple of --subdivisions {args.subdivisions}")
    if args.data is None and (args.classes is None or args.anchors == "kmeans"):
        raise ConfigError("--data needed to fit anchors and count classes "
                          "(or give --classes N --anchors default)")
    classes, anchors = args.classes, None
    if args.data is not None:
        try:
            source = open_data(args.data)
            split = "train" if "train" in source.splits else ALL
            labels = [label for _, label in source.pairs(split)]
        except OSError as exc:
            raise ConfigError(str(exc)) from exc
        if args.anchors == "kmeans":
            try:
                fit = fit_anchors(labels, args.arch, size, size, args.seed)
            except ValueError as exc:
                raise ConfigError(f"{args.data}: {exc}") from exc
            anchors = fit.anchors
            print(f"{fit.boxes} boxes in {fit.images} {split} images, {size}x{size}, "
                  f"k-means (1 - IoU), seed {args.seed}:", file=sys.stderr)
            print(f"anchors = {format_anchors(anchors)}", file=sys.stderr)
            print(f"avg IoU = {fit.avg_iou * 100:2.2f} % (stock {args.arch} anchors "
                  f"{format_anchors(DEFAULT_ANCHORS[args.arch])}: {fit.default_iou * 100:2.2f} %)",
                  file=sys.stderr)
        classes = classes or source.classes or (len(source.names) if source.names else None)
        if classes is None and args.anchors == "kmeans":
            classes = fit.classes_seen
        if classes is None:
            raise ConfigError(f"{args.data}: says nothing about its classes; give --classes N")
    params = TrainParams(batch=args.batch, subdivisions=args.subdivisions, width=size, height=size,
                         learning_rate=args.learning_rate, burn_in=args.burn_in, max_batches=args.max_batches)
    text = generate_cfg(args.arch, classes, anchors, params)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    except OSError as exc:
        raise ConfigError(f"{args.out}: cannot write the cfg ({exc.strerror})") from exc
    print(f"{args.out}: {args.arch}, {classes} class(es), filters {(classes + 5) * 3}", file=sys.stderr)
    return 0


def run_autolabel(args: argparse.Namespace) -> int:
    from ..training.data.autolabel import autolabel
    from . import options

    if not args.images.is_dir():
        raise ConfigError(f"{args.images}: not a folder of pictures")
    model = options.load(args)
    stats = autolabel(model, args.images, args.out, conf=args.conf, backend=args.backend, nms=args.nms,
                      darknet_lib=args.darknet_lib)
    print(f"{args.out}: {stats['images']} pictures, {stats['labelled']} with labels "
          f"({stats['boxes']} boxes), {stats['empty']} without; model {stats['model']}, "
          f"{stats['backend']} backend, conf {stats['conf']}", file=sys.stderr)
    for path, reason in stats["failed"]:
        print(f"  not read: {path}: {reason}", file=sys.stderr)
    print(args.out)
    return 1 if stats["failed"] else 0
