"""How much faster is a training step of the torch engine in bfloat16 autocast (`torch_train
--bf16`) than in float32 (the baseline) on this CPU?

One step is what torch_train does for one micro-batch: forward, the YOLO loss, backward, on the
same 16 pistols train pictures at 416 (channels-last, as the trainer runs). The two kinds of step
alternate run by run so that a noisy neighbour slows both alike; each kind is warmed up once
first (oneDNN builds its kernels on the first call). Also printed: how far the bf16 loss and
gradient are from float32's on that batch, a first sign of whether training would go elsewhere.

    python benchmarks/train_step.py --json [--arch yolov4-tiny] [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from gunwatch.machine import describe_cpu
from gunwatch.training.arch.darknet_cfg import read_cfg
from gunwatch.training.data.loader import Augment, DetectionData, labelled
from gunwatch.training.data.split import split_images
from gunwatch.training.pytorch.torch_loss import yolo_loss
from gunwatch.training.pytorch.torch_train import to_tensor
from gunwatch.training.pytorch.torch_yolo import DarknetModel

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "pistols"
ARCHS = {"yolov3-tiny": REPO / "models" / "gun-yolov3-tiny" / "model.cfg",
         "yolov4-tiny": REPO / "models" / "gun-yolov4-tiny" / "model.cfg"}




def step(model: DarknetModel, x: torch.Tensor, targets: torch.Tensor, size: int, bf16: bool) -> float:
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        outs = model(x)
    loss, _ = yolo_loss([o.float() for o in outs], model.heads, targets, net_w=size, net_h=size)
    loss.backward()
    return float(loss.detach())


def gradient(model: DarknetModel) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="yolov4-tiny",
                        help="gun cfg to train (the shipped model's, 1 class)")
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--batch", type=int, default=16, help="pictures per step (torch_train's micro-batch)")
    parser.add_argument("--runs", type=int, default=5, help="timed steps of each kind")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, for both kinds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cv2.setNumThreads(1)
    paths = split_images(DATASET / "splits.csv", "train")
    data = DetectionData(labelled(paths[:args.batch]), (args.size, args.size),
                         Augment())
    imgs, targets = data.batch(list(range(args.batch)), random.Random(0))
    x = to_tensor(imgs).contiguous(memory_format=torch.channels_last)
    t = torch.from_numpy(targets)
    model = DarknetModel(read_cfg(ARCHS[args.arch]))
    model.init_output_convs()
    model.to(memory_format=torch.channels_last)
    model.train()

    losses = {"fp32": step(model, x, t, args.size, False)}
    grads = {"fp32": gradient(model).clone()}
    losses["bf16"] = step(model, x, t, args.size, True)
    grads["bf16"] = gradient(model).clone()
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.runs):
        for kind in ("fp32", "bf16"):
            start = time.perf_counter()
            step(model, x, t, args.size, kind == "bf16")
            seconds[kind].append(time.perf_counter() - start)

    base = float(np.median(seconds["fp32"]))
    rows = {kind: {"s_per_step_p50": round(float(np.median(s)), 3),
                   "s_per_step": [round(v, 3) for v in s],
                   "speedup": round(base / float(np.median(s)), 2)} for kind, s in seconds.items()}
    cosine = torch.nn.functional.cosine_similarity(grads["fp32"], grads["bf16"], dim=0)
    report = {"name": "train_step", "cpus": os.cpu_count(), "threads": args.threads,
              "torch": torch.__version__, "device": describe_cpu(), "arch": args.arch,
              "size": args.size, "batch": args.batch, "runs": args.runs, "baseline": "fp32",
              "steps": rows, "speedup_bf16": rows["bf16"]["speedup"],
              "loss": {k: round(v, 4) for k, v in losses.items()},
              "gradient_cosine_bf16_fp32": round(float(cosine), 4)}
    if not args.json:
        for kind, row in rows.items():
            print(f"{kind}: {row['s_per_step_p50']:.3f} s per step of {args.batch} at {args.size} "
                  f"(x{row['speedup']})", file=sys.stderr)
        print(f"loss fp32 {losses['fp32']:.4f}, bf16 {losses['bf16']:.4f}; gradient cosine "
              f"{float(cosine):.4f}", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
