"""Turn a torch_train output folder into a model bundle (cfg, weights, names, model.json, logs)."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_loss(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with open(path, newline="") as f:
        rows = [(int(r["iteration"]), float(r["loss"]), float(r["avg_loss"])) for r in csv.DictReader(f)]
    a = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


def plot_loss(loss_csv: Path, map_csv: Path | None, out_png: Path) -> None:
    """Loss (and valid mAP@0.50 if given) against the batch number: matplotlib, else OpenCV."""
    it, loss, avg = read_loss(loss_csv)
    maps = None
    if map_csv is not None and map_csv.exists():
        with open(map_csv, newline="") as f:
            maps = [(int(r["iteration"]), float(r["map50"])) for r in csv.DictReader(f)]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _plot_cv2(it, loss, avg, maps, out_png)
        return
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    ax.plot(it, loss, lw=0.6, alpha=0.5, label="loss")
    ax.plot(it, avg, lw=1.5, label="avg loss (darknet: .9 avg + .1 loss)")
    ax.set_xlabel("batch (iteration)")
    ax.set_ylabel("loss per image")
    ax.set_ylim(0, float(np.percentile(loss, 99)) * 1.1 if len(loss) else 1)
    ax.grid(alpha=0.3)
    if maps:
        ax2 = ax.twinx()
        ax2.plot([m[0] for m in maps], [m[1] for m in maps], "o-", color="tab:red", label="valid mAP@0.50")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("valid mAP@0.50")
        ax2.legend(loc="upper center")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def _plot_cv2(it, loss, avg, maps, out_png: Path) -> None:
    import cv2
    w, h, m = 900, 500, 50
    img = np.full((h, w, 3), 255, np.uint8)
    top = float(np.percentile(loss, 99)) * 1.1 if len(loss) else 1.0
    last = max(float(it[-1]) if len(it) else 1.0, 1.0)

    def pt(x: float, y: float, ymax: float) -> tuple[int, int]:
        return int(m + (w - 2 * m) * x / last), int(h - m - (h - 2 * m) * min(y, ymax) / ymax)

    cv2.rectangle(img, (m, m), (w - m, h - m), (0, 0, 0), 1)
    for series, color in ((loss, (200, 160, 120)), (avg, (180, 80, 0))):
        pts = np.array([pt(x, y, top) for x, y in zip(it, series)], np.int32)
        cv2.polylines(img, [pts], False, color, 1)
    if maps:
        pts = np.array([pt(x, y, 1.0) for x, y in maps], np.int32)
        cv2.polylines(img, [pts], False, (0, 0, 200), 2)
    cv2.putText(img, f"loss (0..{top:.1f}) and valid mAP@0.50 (red, 0..1) vs batch 0..{int(last)}",
                (m, m - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.imwrite(str(out_png), img)


def write_bundle(run: Path, out: Path, name: str, classes: list[str], *, architecture: str = "yolov3-tiny",
                 weights: str = "best.weights", confidence: float = 0.5, nms: float = 0.45,
                 letterbox: bool = True, metrics: dict | None = None,
                 provenance: dict | None = None) -> dict:
    """Copy a training run's model.cfg and ``weights`` (a file in ``run``) into the bundle folder
    ``out`` with names, model.json and the training logs; returns the model.json contents.

    ``letterbox`` is how the plugin should feed camera frames to the model. True (darknet's
    test-time default and the plugin's) keeps a 16:9 frame's proportions; on the gun models,
    stretching such frames to the square input found fewer guns (README, "letterbox input")."""
    logs = out / "training"
    logs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "model.cfg", out / "model.cfg")
    shutil.copyfile(run / weights, out / "model.weights")
    (out / "names").write_text("".join(c + "\n" for c in classes))
    for log_name in ("loss.csv", "map.csv", "train.log", "args.json", "best.json", "train.cfg"):
        if (run / log_name).exists():
            shutil.copyfile(run / log_name, logs / log_name)
    plot_loss(run / "loss.csv", run / "map.csv", logs / "loss.png")

    from ..arch.darknet_cfg import read_cfg
    net = read_cfg(out / "model.cfg")[0]
    best = json.loads((run / "best.json").read_text(encoding="utf-8")) if (run / "best.json").exists() else {}
    card_metrics = {"valid_map50": round(best.get("map", float("nan")), 4),
                    "best_iteration": best.get("iteration")}
    card_metrics.update(metrics or {})
    card_provenance = {"weights_sha256": sha256(out / "model.weights")}
    card_provenance.update(provenance or {})
    card = {
        "name": name,
        "architecture": architecture,
        "classes": classes,
        "input": {"width": net.get_int("width", 416), "height": net.get_int("height", 416),
                  "letterbox": letterbox},
        "thresholds": {"confidence": confidence, "nms": nms},
        "metrics": card_metrics,
        "provenance": card_provenance,
    }
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bundle", description=__doc__)
    ap.add_argument("--run", required=True, type=Path, help="torch_train --out folder")
    ap.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    ap.add_argument("--name", required=True)
    ap.add_argument("--classes", required=True, nargs="+", help="class names in order")
    ap.add_argument("--architecture", default="yolov3-tiny")
    ap.add_argument("--weights", default="best.weights", help="file in --run to ship")
    ap.add_argument("--confidence", type=float, default=0.5)
    ap.add_argument("--nms", type=float, default=0.45)
    ap.add_argument("--stretch", action="store_true",
                    help="model.json input.letterbox false: the plugin stretches frames to the input "
                         "size instead of letterboxing them")
    ap.add_argument("--metrics", default="{}", help="extra JSON merged into metrics")
    ap.add_argument("--provenance", default="{}", help="extra JSON merged into provenance")
    args = ap.parse_args(argv)
    card = write_bundle(args.run, args.out, args.name, args.classes, architecture=args.architecture,
                        weights=args.weights, confidence=args.confidence, nms=args.nms,
                        letterbox=not args.stretch,
                        metrics=json.loads(args.metrics), provenance=json.loads(args.provenance))
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
