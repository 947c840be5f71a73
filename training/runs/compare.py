"""`gunwatch train compare`: the seed study's manual-vs-auto-labels experiment as one command.

Both runs train the same cfg from the same pretrained weights with the same settings on the same
training images; only the labels differ (the data set's, or --label-model's). Both models are
then scored on the same manually labelled test images. Every step leaves its result in OUT and
is skipped when that result is there, so an interrupted compare continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ...darknet.files import label_path, read_list
from ..data.loader import labelled
from .darknet_run import Run, RunError, RunSettings, run_data

ROWS = ("manual", "auto")
COLUMNS = (("mAP@0.50", "map50", "{:.2%}"), ("precision", "precision", "{:.2f}"),
           ("recall", "recall", "{:.2f}"), ("F1", "f1", "{:.2f}"), ("avg IoU", "avg_iou", "{:.2%}"),
           ("final loss", "final_loss", "{:.4f}"))


@dataclass
class Comparison:
    out: Path
    rows: dict[str, dict]  # "manual"/"auto" -> evaluation metrics + final_loss + iterations
    test_images: int
    label_stats: dict


def test_list(data_path: Path, data: dict[str, str]) -> Path:
    """The held-out images: test= in the data file, else test.txt beside it, else valid=."""
    if data.get("test"):
        return Path(data["test"])
    beside = data_path.parent / "test.txt"
    if beside.is_file():
        return beside
    if data.get("valid"):
        return Path(data["valid"])
    raise RunError(f"{data_path}: no test images (no test=, no test.txt beside it, no valid=)")


def labelled_pairs(images: list[Path]) -> list[tuple[Path, Path]]:
    """(image, label) pairs; every test image needs its label file."""
    pairs = labelled(images)
    missing = [(img, lab) for img, lab in pairs if not lab.is_file()]
    if missing:
        raise RunError(f"no label file for {len(missing)} test images, e.g. {missing[0][0]} "
                       f"(looked for {missing[0][1]})")
    return pairs


def _auto_labels(out: Path, train_images: list[Path], label_model: str, conf: float,
                 backend: str) -> tuple[Path, dict]:
    """Label the training images with ``label_model``; returns the auto data's train list."""
    from ..data.autolabel import autolabel

    folder = out / "auto-labels"
    done = folder / "stats.json"
    if not done.is_file():
        stats = autolabel(label_model, train_images, folder, conf=conf, backend=backend)
        done.write_text(json.dumps(stats, indent=1) + "\n")
    stats = json.loads(done.read_text(encoding="utf-8"))
    listed = [(folder / "images" / p.name).absolute() for p in train_images]
    kept = [str(p) for p in listed if label_path(p).is_file()]
    if not kept:
        raise RunError(f"{folder}: the label model labelled none of the {len(listed)} training images")
    train_txt = out / "auto-train.txt"
    train_txt.write_text("".join(p + "\n" for p in kept))
    return train_txt, stats


def _auto_data(out: Path, data: dict[str, str], train_txt: Path) -> Path:
    """The manual data file with only its training list swapped (valid and names stay)."""
    path = out / "auto.data"
    lines = {**data, "train": str(train_txt.absolute())}
    path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return path


def _train(run_dir: Path, settings: RunSettings, label: str):
    run = Run(run_dir)
    if run.settings_path.exists():
        return run.train(resume=True, label=label)
    run.create(settings)
    return run.train(resume=False, label=label)


def compare(out: Path, settings: RunSettings, label_model: str, *, label_conf: float = 0.5,
            backend: str = "auto", conf_thresh: float = 0.25, test_limit: int | None = None) -> Comparison:
    """Train on manual and on auto labels with ``settings`` and score both on the test images."""
    from ..metrics.report import evaluate_model

    data_path = Path(settings.data)
    data = run_data(data_path)
    test_images = read_list(test_list(data_path, data))[:test_limit]
    train_images = read_list(data["train"])
    overlap = set(test_images) & set(train_images)
    if overlap:
        raise RunError(f"{len(overlap)} test images are also training images, e.g. {min(overlap)}; "
                       "prepare the data with a test split")
    pairs = labelled_pairs(test_images)
    out.mkdir(parents=True, exist_ok=True)
    train_txt, stats = _auto_labels(out, train_images, label_model, label_conf, backend)
    datas = {"manual": data_path, "auto": _auto_data(out, data, train_txt)}

    rows: dict[str, dict] = {}
    for name in ROWS:
        result = _train(out / name, replace(settings, data=str(datas[name]), name=f"compare-{name}"),
                        label=f"{name} labels")
        scores = evaluate_model(result.bundle, pairs, backend, conf_thresh=conf_thresh)
        scores.pop("pr_curve", None)
        rows[name] = {**scores, "final_loss": result.final_avg_loss, "iterations": result.iterations,
                      "bundle": str(result.bundle), "engine": result.engine}
    comparison = Comparison(out, rows, len(pairs), stats)
    (out / "compare.json").write_text(json.dumps(
        {"label_model": label_model, "label_conf": label_conf, "test_images": len(pairs),
         "auto_labels": stats, "rows": rows}, indent=1, default=str) + "\n")
    (out / "compare.md").write_text(format_table(comparison, markdown=True))
    return comparison


def format_table(comparison: Comparison, markdown: bool = False) -> str:
    """The side-by-side table; final loss is the avg loss at the last iteration, as the seed's."""
    header = ["labels", *(title for title, _, _ in COLUMNS)]
    body = []
    for name, row in comparison.rows.items():
        cells = [name]
        for _, key, fmt in COLUMNS:
            value = row.get(key)
            cells.append("-" if value is None else fmt.format(value))
        body.append(cells)
    note = (f"{comparison.test_images} manually labelled test images; "
            f"{next(iter(comparison.rows.values()))['iterations']} iterations each")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + f"\n\n{note}\n"
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body]]
    return "\n".join(lines) + f"\n({note})"
