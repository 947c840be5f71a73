"""Train a darknet-format YOLO (yolov3-tiny layer types) with PyTorch on CPU or GPU.

Example (1-class gun model from COCO yolov3-tiny):
    python -m gunwatch.training.pytorch.torch_train --cfg yolov3-tiny.cfg --classes 1 \
        --weights yolov3-tiny.weights --train pistols/splits.csv:train \
        --valid pistols/splits.csv:valid --out run/ --iterations 1000
"""
from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ...darknet.files import read_list
from ...detectors.pytorch import bf16_is_native
from ...errors import GunwatchError
from ..arch.darknet_cfg import Section, inference_cfg, make_n_class_cfg, read_cfg, write_cfg
from ..data.loader import Augment, DetectionData, labelled
from ..data.split import split_images
from ..errors import TrainingError
from ..metrics.evaluate import average_precision, detections_from_rows, precision_recall_at
from ..runs.engine import StopRequest
from .torch_ema import WeightAverage
from .torch_loss import yolo_loss
from .torch_yolo import DarknetModel, predict

EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


def resolve_list(spec: str) -> list[tuple[Path, Path]]:
    """A darknet list file, or ``DATASET/splits.csv:SPLIT`` (images/ beside the csv)."""
    if ".csv:" in spec:
        csv_path, split = spec.rsplit(":", 1)
        images = split_images(Path(csv_path), split)
        if not images:
            raise TrainingError(f"{csv_path}: no rows with split={split!r}")
        return labelled(images)
    return labelled(read_list(spec))


def learning_rate(it: int, base: float, burn_in: int, steps: list[int], scales: list[float]) -> float:
    """darknet policy=steps with burn_in (power 4), for batch number ``it`` (0-based)."""
    if it < burn_in:
        return base * (it / burn_in) ** 4
    lr = base
    for s, k in zip(steps, scales):
        if it >= s:
            lr *= k
    return lr


def to_tensor(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255.0)


def epoch_order(count: int, seed: int, epoch: int) -> list[int]:
    """The pictures of one pass over the list, shuffled by (seed, epoch) alone."""
    order = list(range(count))
    random.Random(seed * 1000003 + epoch).shuffle(order)
    return order


def batch_plan(count: int, batch: int, seed: int, iteration: int) -> tuple[list[int], random.Random]:
    """The pictures of batch ``iteration`` (0-based) and the generator that augments them. Both
    follow from the iteration number alone, so a run resumed at any batch, in another process
    or on another day, sees exactly the batches an uninterrupted run would have seen: the
    pictures are read as consecutive slices of an endless sequence of shuffled epochs."""
    picks, orders = [], {}
    for pos in range(iteration * batch, (iteration + 1) * batch):
        epoch, k = divmod(pos, count)
        if epoch not in orders:
            orders[epoch] = epoch_order(count, seed, epoch)
        picks.append(orders[epoch][k])
    return picks, random.Random(f"{seed}/{iteration}")


class Prefetcher:
    """Builds augmented batches in a background thread (OpenCV releases the GIL), with the
    pictures of a batch spread over ``threads`` threads: on a GPU, one thread decoding and
    augmenting 64 pictures takes longer than the network's step."""

    def __init__(self, data: DetectionData, batch: int, seed: int, start_iter: int, threads: int = 1) -> None:
        self.data, self.batch, self.seed = data, batch, seed
        self.next_iter = start_iter
        self.q: queue.Queue = queue.Queue(maxsize=2)
        self.stop = False
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="loader") if threads > 1 else None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop:
                indices, rng = batch_plan(len(self.data), self.batch, self.seed, self.next_iter)
                self.next_iter += 1
                self.q.put(self.data.batch(indices, rng, self.pool.map if self.pool else map))
        except BaseException as exc:  # surface loader errors in the training thread
            self.q.put(exc)

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        item = self.q.get()
        if isinstance(item, BaseException):
            raise item
        return item


@torch.no_grad()
def evaluate_map(model: DarknetModel, data: DetectionData, batch: int = 16, conf: float = 0.005,
                 nms_thresh: float = 0.45, iou: float = 0.5) -> dict[str, float]:
    """mAP@iou over the classes with truths (VOC all-point AP, per-class NMS)."""
    was_training = model.training
    model.eval()
    dets = []
    for s in range(0, len(data), batch):
        imgs, _ = data.batch(list(range(s, min(s + batch, len(data)))))
        rows = predict(model, to_tensor(imgs)).numpy()
        dets.extend(detections_from_rows(r, conf, nms_thresh) for r in rows)
    model.train(was_training)
    classes = model.heads[0].classes
    aps = []
    result: dict[str, float] = {}
    for c in range(classes):
        r = average_precision(dets, data.labels, c, iou)
        if r["n_truth"]:
            aps.append(r["ap"])
        result[f"ap_{c}"] = r["ap"]
    result["map"] = float(np.mean(aps)) if aps else 0.0
    p, rc = precision_recall_at(dets, data.labels, 0, 0.5, iou)
    result["precision_at_0.5"], result["recall_at_0.5"] = p, rc
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="torch_train", description=__doc__.splitlines()[0])
    ap.add_argument("--cfg", required=True, help="darknet cfg (with --classes: the COCO cfg to adapt)")
    ap.add_argument("--classes", type=int, help="make an N-class cfg from --cfg (output convs re-initialised)")
    ap.add_argument("--weights", help="pretrained darknet weights; layers whose shapes match are loaded")
    ap.add_argument("--weights-cfg", help="cfg the --weights were saved with (default: --cfg as given)")
    ap.add_argument("--train", required=True, help="darknet list file or DATASET/splits.csv:SPLIT")
    ap.add_argument("--valid", help="list for mAP@0.50 model selection (same forms as --train)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--iterations", type=int, default=1000, help="batches to train (darknet max_batches)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--micro-batch", type=int, default=16, help="images per forward pass (gradient accumulation)")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--burn-in", type=int, help="default: min(1000, iterations // 10)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--decay", type=float, default=0.0005)
    fr = ap.add_mutually_exclusive_group()
    fr.add_argument("--freeze-backbone", dest="freeze", action="store_true", default=True,
                    help="freeze layers before the first head's branch (default)")
    fr.add_argument("--no-freeze", dest="freeze", action="store_false")
    ap.add_argument("--unfreeze-at", type=int, default=None,
                    help="with --freeze-backbone: train all layers from this iteration on")
    ap.add_argument("--freeze-layers", type=int, help="freeze layers [0, N) (default: the backbone)")
    ap.add_argument("--img-size", type=int, default=416, help="training input size (the saved model.cfg keeps the cfg's size)")
    ap.add_argument("--multi-scale", type=int, metavar="MIN", default=None,
                    help="like darknet random=1: every 10 iterations train at a random size from MIN to "
                         "--img-size in steps of 32 (validation stays at the cfg size)")
    ap.add_argument("--jitter", type=float, default=0.2)
    ap.add_argument("--mosaic", type=float, default=0.0, metavar="P",
                    help="share of training pictures built as a 4-picture mosaic (AlexeyAB mosaic=1); "
                         "teaches small objects")
    ap.add_argument("--zoom-out", type=float, default=0.0, metavar="P",
                    help="share of training pictures shrunk to 0.15-0.6 of the input side and pasted "
                         "on another picture (gun-free ones half the time): the small, far guns of "
                         "a camera")
    ap.add_argument("--bf16", action="store_true",
                    help="forward and backward passes in bfloat16 autocast (weights, optimizer and "
                         "loss stay float32); faster on CPUs with AVX-512 BF16 or AMX "
                         "(benchmarks/train_step.py measures it)")
    ap.add_argument("--iou-thresh", type=float, default=1.0, metavar="T",
                    help="also train every anchor whose shape IoU with a truth exceeds T "
                         "(AlexeyAB [yolo] iou_thresh, 0.213 in yolov4); 1 = darknet's best anchor only")
    ap.add_argument("--ema", type=float, default=None, metavar="DECAY",
                    help="evaluate and save an exponential moving average of the weights "
                         "(0.995: about the last 200 iterations); --resume keeps it")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loader-threads", type=int, default=1,
                    help="threads that decode and augment training pictures (more on a GPU machine, "
                         "where one cannot keep up; on a 2-core CPU they take cores from training)")
    ap.add_argument("--print-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--eval-first", action="store_true",
                    help="score the starting weights before the first batch (iteration 0 in "
                         "map.csv): the baseline a run that continues a model must beat, and "
                         "best.weights if nothing does")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.weights + OUT/last.pt")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop (evaluate, checkpoint) once this much wall time has passed; --resume continues")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


@dataclass
class Progress:
    """What a checkpoint keeps besides the weights: where the run is and its best score."""

    iteration: int = 0
    avg_loss: float = -1.0
    best_map: float = -1.0
    history: list[dict] = field(default_factory=list)


def build_model(args: argparse.Namespace, out: Path) -> tuple[list[Section], DarknetModel]:
    """The cfg trained (adapted to --classes), written as train.cfg and model.cfg, and its
    model with the pretrained layers that fit loaded."""
    base_cfg = read_cfg(args.cfg)
    if args.classes:
        sections = make_n_class_cfg(base_cfg, args.classes, batch=args.batch,
                                    subdivisions=max(1, args.batch // args.micro_batch),
                                    max_batches=args.iterations, learning_rate=args.lr)
    else:
        sections = base_cfg
    write_cfg(sections, out / "train.cfg")
    write_cfg(inference_cfg(sections), out / "model.cfg")
    model = DarknetModel(sections)
    model.init_output_convs()
    if args.weights and not args.resume:
        src_cfg = args.weights_cfg or args.cfg
        loaded = model.load_darknet_file(args.weights, source_cfg=src_cfg)
        print(f"loaded {len(loaded)} conv layers from {args.weights}: {loaded}", flush=True)
    # oneDNN's convolutions run about 25 % faster on NHWC tensors on these CPUs (measured on
    # yolov3-tiny forward+backward, 16 images at 416: 4.5 s against 6.0 s with 2 threads)
    model.to(memory_format=torch.channels_last)
    return sections, model


def load_data(args: argparse.Namespace, net_size: tuple[int, int],
              model: DarknetModel) -> tuple[DetectionData, DetectionData | None]:
    """Training pictures at --img-size with augmentation; validation pictures at the cfg's size."""
    size = args.img_size
    try:
        train = DetectionData(resolve_list(args.train), (size, size), Augment(jitter=args.jitter),
                              mosaic=args.mosaic, zoom_out=args.zoom_out)
    except ValueError as exc:
        raise TrainingError(f"--mosaic/--zoom-out: {exc}") from exc
    if args.zoom_out and not train.gun_free:
        print("zoom-out: no gun-free pictures in the train list, so every background holds guns",
              flush=True)
    valid = DetectionData(resolve_list(args.valid), net_size, cache=True) if args.valid else None
    print(f"train {len(train)} images, valid {len(valid) if valid else 0} images, input {size}", flush=True)
    losses = sorted({(h.iou_loss, h.iou_normalizer) for h in model.heads})
    print("box loss (the cfg's [yolo] iou_loss): " + ", ".join(
        f"{kind} x {weight:g}" for kind, weight in losses), flush=True)
    return train, valid


def make_optimizer(model: DarknetModel, args: argparse.Namespace) -> torch.optim.SGD:
    decay_params, other_params = [], []
    for name, p in model.named_parameters():
        # darknet decays conv weights only (not biases or batch-norm scales)
        (decay_params if name.endswith("conv.weight") else other_params).append(p)
    return torch.optim.SGD([{"params": decay_params, "weight_decay": args.decay},
                            {"params": other_params, "weight_decay": 0.0}],
                           lr=args.lr, momentum=args.momentum)


def make_average(model: DarknetModel, args: argparse.Namespace) -> WeightAverage | None:
    if not args.ema:
        return None
    print(f"evaluating and saving the weight average (EMA decay {args.ema})", flush=True)
    return WeightAverage(model, args.ema)


def resume(out: Path, model: DarknetModel, opt: torch.optim.Optimizer,
           ema: WeightAverage | None) -> Progress:
    """Weights, optimizer, weight average and progress as the last checkpoint left them."""
    state = torch.load(out / "last.pt", weights_only=False)
    model.load_darknet_file(out / "last.weights")
    opt.load_state_dict(state["optimizer"])
    progress = Progress(state["iteration"], state["avg_loss"], state["best_map"], state.get("map_history", []))
    if ema:
        if "ema" not in state:
            raise TrainingError(f"{out / 'last.pt'}: the run was started without --ema; resume it without --ema")
        ema.load_state_dict(state["ema"])
    print(f"resumed at iteration {progress.iteration} (best mAP {progress.best_map:.4f})", flush=True)
    return progress


def open_logs(args: argparse.Namespace, out: Path, start: int) -> tuple[Path, Path]:
    """loss.csv (cut back to the checkpoint on a resume: those batches are redone), map.csv
    and args.json."""
    loss_csv = out / "loss.csv"
    if args.resume and loss_csv.exists():
        keep = [ln for ln in loss_csv.read_text(encoding="utf-8").splitlines()[1:] if int(ln.split(",")[0]) <= start]
        loss_csv.write_text("iteration,loss,avg_loss\n" + "".join(k + "\n" for k in keep))
    elif not args.resume:
        loss_csv.write_text("iteration,loss,avg_loss\n")
    map_csv = out / "map.csv"
    if not args.resume or not map_csv.exists():
        map_csv.write_text("iteration,map50,precision_at_0.5,recall_at_0.5\n")
    (out / "args.json").write_text(json.dumps(
        {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, indent=1))
    return loss_csv, map_csv


def keep_bf16_only_if_native(args: argparse.Namespace) -> None:
    """--bf16 is a speed choice (weights, optimizer and loss stay float32), and a run resumed on
    another machine keeps the flag it was started with: where the CPU has no native bfloat16 it
    would run many times slower, so such a run trains in float32 and says so."""
    if args.bf16 and not bf16_is_native(torch):
        print("--bf16: this CPU has no native bfloat16 (oneDNN needs AVX-512 BF16 or AMX) and emulated "
              "bfloat16 is far slower than float32 (170 against 14.3 s per iteration on an AVX2-only "
              "EPYC): training in float32", flush=True)
        args.bf16 = False


class TorchRun:
    """One invocation of the trainer: the steps of `main`, sharing the model and its state."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        keep_bf16_only_if_native(args)
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(1)
        torch.manual_seed(args.seed)
        self.out: Path = args.out
        self.out.mkdir(parents=True, exist_ok=True)
        self.sections, self.model = build_model(args, self.out)
        self.net_w = self.sections[0].get_int("width", 416)
        self.net_h = self.sections[0].get_int("height", 416)
        self.train_data, self.valid = load_data(args, (self.net_w, self.net_h), self.model)
        self.opt = make_optimizer(self.model, args)
        self.ema = make_average(self.model, args)
        # what is evaluated and saved as best/final: the average when there is one
        self.shipped = self.ema.model if self.ema else self.model
        self.progress = resume(self.out, self.model, self.opt, self.ema) if args.resume else Progress()
        self.freeze_at = args.freeze_layers if args.freeze_layers is not None else self.model.default_freeze_point()
        self.unfreeze_at = args.unfreeze_at if args.unfreeze_at is not None else args.iterations + 1
        self.model.freeze(self.frozen_for(self.progress.iteration))
        self.model.train()
        self.burn_in = args.burn_in if args.burn_in is not None else min(1000, args.iterations // 10)
        self.steps = [int(args.iterations * 0.8), int(args.iterations * 0.9)]
        self.loss_csv, self.map_csv = open_logs(args, self.out, self.progress.iteration)

    def frozen_for(self, it: int) -> int:
        """Layers [0, N) frozen at iteration ``it``."""
        return self.freeze_at if self.args.freeze and it < self.unfreeze_at else 0

    def checkpoint(self, it: int) -> None:
        self.model.save_darknet_file(self.out / "last.weights", seen=it * self.args.batch)
        p = self.progress
        state = {"optimizer": self.opt.state_dict(), "iteration": it, "avg_loss": p.avg_loss,
                 "best_map": p.best_map, "map_history": p.history}
        if self.ema:
            state["ema"] = self.ema.state_dict()
        torch.save(state, self.out / "last.pt.tmp")
        (self.out / "last.pt.tmp").replace(self.out / "last.pt")

    def evaluate(self, it: int) -> None:
        """Score the shipped weights on the valid list; a new best is saved as best.weights."""
        t0 = time.time()
        r = evaluate_map(self.shipped, self.valid)
        self.progress.history.append({"iteration": it, **r})
        with open(self.map_csv, "a") as f:
            f.write(f"{it},{r['map']:.4f},{r['precision_at_0.5']:.4f},{r['recall_at_0.5']:.4f}\n")
        tag = ""
        if r["map"] > self.progress.best_map:
            self.progress.best_map = r["map"]
            self.shipped.save_darknet_file(self.out / "best.weights", seen=it * self.args.batch)
            (self.out / "best.json").write_text(json.dumps({"iteration": it, **r}, indent=1))
            tag = " (best)"
        print(f"eval it {it}: mAP@0.50 {r['map']:.4f} P@0.5 {r['precision_at_0.5']:.3f} "
              f"R@0.5 {r['recall_at_0.5']:.3f} [{time.time() - t0:.0f} s]{tag}", flush=True)

    def step(self, imgs: np.ndarray, targets: np.ndarray, cur: int) -> float:
        """One batch in micro-batches (gradients accumulated), at input size ``cur``; the loss."""
        args = self.args
        self.opt.zero_grad(set_to_none=True)
        total = 0.0
        for s in range(0, args.batch, args.micro_batch):
            e = min(s + args.micro_batch, args.batch)
            sel = (targets[:, 0] >= s) & (targets[:, 0] < e)
            t = torch.from_numpy(targets[sel]).clone()
            t[:, 0] -= s
            x = to_tensor(imgs[s:e])
            if cur != args.img_size:
                x = torch.nn.functional.interpolate(x, size=(cur, cur), mode="bilinear",
                                                    align_corners=False, antialias=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                outs = self.model(x.contiguous(memory_format=torch.channels_last))
            outs = [o.float() for o in outs]  # the loss's exp/sigmoid and sums want float32
            loss, _ = yolo_loss(outs, self.model.heads, t, net_w=cur, net_h=cur,
                                iou_thresh=args.iou_thresh)
            (loss * ((e - s) / args.batch)).backward()
            total += float(loss.detach()) * (e - s) / args.batch
        self.opt.step()
        if self.ema:
            self.ema.update(self.model)
        return total

    def run(self) -> int:
        """Train from the current iteration to --iterations, evaluating and checkpointing on the
        way; 0 when done or out of time, EXIT_INTERRUPTED after Ctrl-C or SIGTERM."""
        args, model, progress = self.args, self.model, self.progress
        if args.eval_first and self.valid is not None and not args.resume:
            self.evaluate(0)
        loader = Prefetcher(self.train_data, args.batch, args.seed, progress.iteration, args.loader_threads)
        size = args.img_size
        sizes = list(range(args.multi_scale, size + 1, 32)) if args.multi_scale else [size]
        cur = size
        t_start, t_ckpt = time.time(), time.time()
        deadline = time.time() + args.max_minutes * 60 if args.max_minutes else None
        done_since = 0
        # Ctrl-C or the engine's SIGTERM ends the run after the current iteration, with a
        # checkpoint, instead of losing up to --checkpoint-minutes of work
        with open(self.loss_csv, "a") as log, StopRequest() as stop:
            for it in range(progress.iteration, args.iterations):
                if self.frozen_for(it) != model.frozen_upto:
                    model.freeze(self.frozen_for(it))
                    print(f"it {it}: layers [0, {model.frozen_upto}) frozen", flush=True)
                lr = learning_rate(it, args.lr, self.burn_in, self.steps, [0.1, 0.1])
                for g in self.opt.param_groups:
                    g["lr"] = lr
                imgs, targets = loader.get()
                if it % 10 == 0:
                    cur = random.Random(args.seed * 7919 + it).choice(sizes)
                total = self.step(imgs, targets, cur)
                progress.avg_loss = total if progress.avg_loss < 0 else progress.avg_loss * 0.9 + total * 0.1
                log.write(f"{it + 1},{total:.4f},{progress.avg_loss:.4f}\n")
                log.flush()
                done_since += 1
                n = it + 1
                if n % args.print_every == 0 or n == args.iterations:
                    spi = (time.time() - t_start) / done_since
                    eta = spi * (args.iterations - n)
                    print(f"it {n}/{args.iterations} loss {total:.3f} avg {progress.avg_loss:.3f} lr {lr:.6f} "
                          f"size {cur} {spi:.2f} s/it ETA {int(eta // 3600)}h{int(eta % 3600 // 60):02d}m",
                          flush=True)
                out_of_time = deadline is not None and time.time() > deadline
                interrupted = stop.requested and n < args.iterations  # a last batch just ends the run
                if self.valid is not None and (n % args.eval_every == 0 or n == args.iterations or out_of_time):
                    self.evaluate(n)
                    t_start, done_since = time.time(), 0  # keep s/it about training only
                if (time.time() - t_ckpt > args.checkpoint_minutes * 60 or n == args.iterations
                        or out_of_time or interrupted):
                    self.checkpoint(n)
                    t_ckpt = time.time()
                if out_of_time:
                    print(f"stopped at iteration {n}: --max-minutes {args.max_minutes} reached", flush=True)
                    loader.stop = True
                    return 0
                if interrupted:
                    print(f"interrupted at iteration {n}: checkpoint saved; --resume continues", flush=True)
                    loader.stop = True
                    return EXIT_INTERRUPTED
        loader.stop = True
        self.shipped.save_darknet_file(self.out / "final.weights", seen=args.iterations * args.batch)
        print(f"done: best valid mAP@0.50 {progress.best_map:.4f}; weights in {self.out}", flush=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return TorchRun(args).run()
    except GunwatchError as exc:  # a program of its own: its message and status 1
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    sys.exit(main())
