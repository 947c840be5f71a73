"""`gunwatch train run`: one training run in a folder, resumable, with darknet or PyTorch.

A run folder holds everything a run needs and leaves: `run.json` (the settings, so `--resume`
needs nothing else), `train.cfg` (the cfg trained), `obj.data` (the data file with `backup=`
pointing into the run, and `train=`/`valid=` pointing at `train.txt`/`valid.txt`, copies of the
data's lists, so a run kept outside a checkout resumes when the checkout is laid anew),
`model.cfg` (train.cfg at batch 1), `pretrained/` (the partial backbone
made by `darknet partial`), `backup/` (darknet's or the trainer's checkpoints), `train.log`
(every line the engine printed, one block per attempt), `loss.csv`, `loss.png`, `map.csv` and
`best.json` (valid scores) and `bundle/` (model.cfg, model.weights, names, model.json,
training/). How darknet names and counts its backups is in darknet_cli.py.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from ...darknet.files import read_data_file, read_list, read_names
from ...darknet.weights import expected_size, is_complete, read_header_file
from ...errors import BackendUnavailable
from ..arch.cfg_gen import architecture_of
from ..arch.darknet_cfg import Section, conv_specs, inference_cfg, layer_sections, read_cfg, write_cfg
from ..data.loader import labelled
from ..errors import TrainingError
from .darknet_cli import (Checkpoint, Iteration, backbone_cut, cfg_base, complete_backups,
                          darknet_label_path, latest_checkpoint, parse_iteration, parse_torch_iteration)
from .engine import StopRequest, TrainBar, drive

ENGINES = ("darknet", "torch")


class RunError(TrainingError):
    """The run cannot start or continue as asked; the message names the file and the fix."""


class EngineUnavailable(BackendUnavailable, RunError):
    """The chosen engine is not installed here (exit status 3, as for a detector backend)."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run; it can be resumed from ``checkpoint``."""

    def __init__(self, run_dir: Path, iteration: int | None, checkpoint: int | None) -> None:
        self.run_dir, self.iteration, self.checkpoint = run_dir, iteration, checkpoint
        at = f" at iteration {iteration}" if iteration else ""
        kept = (f"last checkpoint: iteration {checkpoint}" if checkpoint
                else "no checkpoint yet: --resume starts over")
        super().__init__(f"interrupted{at}; {kept}; continue with: gunwatch train run {run_dir} --resume")

def check_pretrained(weights: Path, weights_cfg: str | None, target: list[Section], cfg: str) -> None:
    """pjreddie reads a weights file layer by layer without checking shapes, so a file saved for
    another cfg would load as noise: its size must be its own cfg's (or fit in the trained cfg)."""
    header = read_header_file(weights)
    size = weights.stat().st_size
    if weights_cfg is None:
        if size > expected_size(conv_specs(target), header):
            raise RunError(f"{weights} holds more weights than {cfg} has: it was saved for another "
                           "cfg; name that cfg with --weights-cfg")
    elif size != expected_size(conv_specs(read_cfg(weights_cfg)), header):
        raise RunError(f"{weights} does not fit {weights_cfg} (its size differs from that cfg's "
                       "weights); name the cfg it was saved with in --weights-cfg")


def run_data(path: Path) -> dict[str, str]:
    """The data file of a run, with the keys training needs."""
    if not path.is_file():
        raise RunError(f"{path}: no such data file; make one with `gunwatch train prepare`")
    values = read_data_file(path)
    for key in ("classes", "train", "names"):
        if key not in values:
            raise RunError(f"{path}: no {key}= line (a data file from `gunwatch train prepare` has it)")
    return values


def find_weights_cfg(weights: Path) -> Path | None:
    """The cfg a weights file was saved with, when it lies beside it (same stem, or a bundle)."""
    for candidate in (weights.with_suffix(".cfg"), weights.parent / "model.cfg"):
        if candidate.is_file() and (candidate.stem == weights.stem or weights.name == "model.weights"):
            return candidate
    return None


@dataclass
class RunSettings:
    """What `train run` was asked to do; stored in RUN/run.json so a resume repeats it."""

    engine: str
    data: str
    cfg: str
    weights: str | None = None
    weights_cfg: str | None = None
    iterations: int | None = None
    batch: int | None = None
    subdivisions: int | None = None
    size: int | None = None
    random: bool | None = None
    learning_rate: float | None = None
    name: str | None = None
    darknet: str = "darknet"
    threads: int = 2
    loader_threads: int = 1
    seed: int = 0
    select: str = "best"
    # torch engine only (torch_train's options of the same names)
    unfreeze_at: int | None = None
    multi_scale: int | None = None
    ema: float | None = None
    zoom_out: float = 0.0
    bf16: bool = False
    eval_every: int | None = None

    def torch_only(self) -> list[str]:
        """The torch-only options this run sets, as command-line names."""
        given = {"--unfreeze-at": self.unfreeze_at, "--multi-scale": self.multi_scale, "--ema": self.ema,
                 "--zoom-out": self.zoom_out or None, "--bf16": self.bf16 or None,
                 "--eval-every": self.eval_every, "--seed": self.seed or None}
        return [name for name, value in given.items() if value is not None]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunSettings":
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise RunError(f"{path}: not a run's settings ({exc}); start a new run in another folder") from exc


def training_cfg(settings: RunSettings) -> list[Section]:
    """The cfg with the run's overrides. A shorter run also gets its lr steps at 80% and 90% of
    the iterations and a burn-in of at most a tenth of them, as darknet's recipe scales."""
    cfg = Path(settings.cfg)
    try:
        sections = read_cfg(cfg)
    except (OSError, ValueError) as exc:
        raise RunError(f"{cfg}: cannot read the cfg ({exc})") from exc
    net = sections[0].options
    if settings.batch is not None:
        net["batch"] = str(settings.batch)
    if settings.subdivisions is not None:
        net["subdivisions"] = str(settings.subdivisions)
    if settings.size is not None:
        net["width"] = net["height"] = str(settings.size)
    if settings.learning_rate is not None:
        net["learning_rate"] = repr(settings.learning_rate)
    if settings.iterations is not None:
        n = settings.iterations
        net["max_batches"] = str(n)
        if net.get("policy", "constant") == "steps":
            net["steps"] = f"{max(1, int(n * 0.8))},{max(1, int(n * 0.9))}"
            net.setdefault("scales", ".1,.1")
        net["burn_in"] = str(min(int(net.get("burn_in", "0")), n // 10))
    if settings.random is not None:
        for sec in layer_sections(sections):
            if sec.type == "yolo":
                sec.options["random"] = "1" if settings.random else "0"
    if int(net.get("max_batches", "0")) < 1:
        raise RunError(f"{cfg}: max_batches is not set; pass --iterations")
    return sections


def cfg_classes(sections: list[Section]) -> set[int]:
    return {s.get_int("classes", 80) for s in layer_sections(sections) if s.type == "yolo"}

@dataclass
class RunResult:
    run_dir: Path
    engine: str
    iterations: int
    bundle: Path
    weights: Path
    final_loss: float | None
    final_avg_loss: float | None
    seconds_per_iteration: float | None


class Run:
    """A run folder and the steps to start, resume and finish it."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.settings_path = run_dir / "run.json"
        self.cfg_path = run_dir / "train.cfg"
        self.data_path = run_dir / "obj.data"
        self.backup = run_dir / "backup"
        self.log = run_dir / "train.log"
        self.loss_csv = run_dir / "loss.csv"
        self.bundle = run_dir / "bundle"

    # --- setting up -------------------------------------------------------------------------
    def create(self, settings: RunSettings) -> None:
        if self.settings_path.exists():
            raise RunError(f"{self.dir} already holds a run ({self.settings_path}); continue it with "
                           f"`gunwatch train run {self.dir} --resume` or choose another folder")
        if settings.engine not in ENGINES:
            raise RunError(f"engine {settings.engine!r}: choose one of {', '.join(ENGINES)}")
        if settings.engine != "torch" and settings.torch_only():
            raise RunError(f"{', '.join(settings.torch_only())}: options of the torch engine; "
                           "add --engine torch or drop them")
        sections = training_cfg(settings)
        data = run_data(Path(settings.data))
        classes = cfg_classes(sections)
        if classes != {int(data["classes"])}:
            raise RunError(f"{settings.cfg} detects {sorted(classes)} classes but {settings.data} has "
                           f"classes={data['classes']}; make a cfg for it with `gunwatch train config`")
        self._check_images(data, settings.engine)
        valid = data.get("valid")
        if (settings.select == "best" or settings.engine == "torch") and valid and not Path(valid).is_file():
            raise RunError(f"{settings.data}: valid={valid} does not exist (the backups are scored on "
                           "it); fix the data file, or pass --select final with --engine darknet")
        if settings.weights is not None and not Path(settings.weights).is_file():
            raise RunError(f"{settings.weights}: no such weights file")
        if settings.weights and settings.weights_cfg is None:
            found = find_weights_cfg(Path(settings.weights))
            settings.weights_cfg = str(found) if found else None
        if settings.weights:
            check_pretrained(Path(settings.weights), settings.weights_cfg, sections, settings.cfg)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.backup.mkdir(exist_ok=True)
        write_cfg(sections, self.cfg_path)
        write_cfg(inference_cfg(sections), self.dir / "model.cfg")
        lines = {**data, "backup": str(self.backup.absolute())}
        for key in ("train", "valid"):
            if data.get(key):
                lines[key] = str(self._copy_list(Path(data[key]), self.dir / f"{key}.txt").absolute())
        self.data_path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        settings.save(self.settings_path)

    @staticmethod
    def _copy_list(source: Path, dest: Path) -> Path:
        """``source`` copied to ``dest`` with every picture's path made absolute (relative ones
        are read from the list's folder), so the copy works from any folder."""
        dest.write_text("".join(f"{image.absolute()}\n" for image in read_list(source)))
        return dest

    @staticmethod
    def _check_images(data: dict[str, str], engine: str) -> None:
        train = [str(image) for image in read_list(data["train"])]
        if not train:
            raise RunError(f"{data['train']}: the training list is empty")
        if engine != "darknet":
            return
        missing = [p for p in train if not Path(darknet_label_path(p)).is_file()]
        if missing:
            raise RunError(
                f"{data['train']}: darknet would find no labels for {len(missing)} of {len(train)} "
                f"images, e.g. {missing[0]} -> {darknet_label_path(missing[0])} (darknet replaces the "
                "first 'images' in the path by 'labels' and .jpg/.png by .txt); keep the data set "
                "out of folders whose names contain 'images' or 'raw' above its images/ folder")

    def settings(self) -> RunSettings:
        if not self.settings_path.exists():
            raise RunError(f"{self.dir}: no run to resume (no run.json); start one with "
                           "--data, --cfg and --weights")
        return RunSettings.load(self.settings_path)

    def sections(self) -> list[Section]:
        return read_cfg(self.cfg_path)

    def max_batches(self) -> int:
        return self.sections()[0].get_int("max_batches", 0)

    def set_iterations(self, iterations: int) -> None:
        """Resume with another iteration count (a longer run continues the same one)."""
        settings = self.settings()
        settings.iterations = iterations
        # re-derive from the trained cfg, so only max_batches and its schedule change
        updated = training_cfg(RunSettings(engine=settings.engine, data=settings.data,
                                           cfg=str(self.cfg_path), iterations=iterations))
        write_cfg(updated, self.cfg_path)
        write_cfg(inference_cfg(updated), self.dir / "model.cfg")
        settings.save(self.settings_path)

    # --- checkpoints and loss log -------------------------------------------------------------
    def checkpoint(self) -> Checkpoint | None:
        settings = self.settings()
        if settings.engine == "torch":
            return self._torch_checkpoint()
        return latest_checkpoint(self.backup, cfg_base(self.cfg_path), self.sections())

    def _torch_checkpoint(self) -> Checkpoint | None:
        weights, state = self.dir / "last.weights", self.dir / "last.pt"
        if not (weights.is_file() and state.is_file()):
            return None
        sections = self.sections()
        header = is_complete(weights, conv_specs(sections))
        if header is None:
            raise RunError(f"{weights}: cut short (the trainer was killed while saving it); "
                           f"delete {weights} and {state} to start over")
        return Checkpoint(weights, header.seen // max(1, sections[0].get_int("batch", 1)))

    def trim_loss(self, upto: int) -> None:
        """Drop logged batches after the checkpoint: the resumed engine redoes them."""
        header = "iteration,loss,avg_loss,rate,seconds,images\n"
        if not self.loss_csv.exists():
            self.loss_csv.write_text(header)
            return
        rows = self.loss_csv.read_text(encoding="utf-8").splitlines()[1:]
        keep = [r for r in rows if r and int(r.split(",")[0]) <= upto]
        self.loss_csv.write_text(header + "".join(r + "\n" for r in keep))

    # --- training ---------------------------------------------------------------------------
    def train(self, *, resume: bool, bar_stream: TextIO | None = None, bar_tty: bool | None = None,
              label: str | None = None) -> RunResult:
        settings = self.settings()
        checkpoint = self.checkpoint() if resume else None
        start = checkpoint.iteration if checkpoint else 0
        total = self.max_batches()
        if resume and start >= total and self._final_weights(settings).is_file():
            return self.finish(settings)
        if settings.engine == "darknet":  # torch_train trims its own loss.csv on --resume
            self.trim_loss(start)
        bar = TrainBar(total, label or settings.engine, bar_stream, bar_tty)
        if checkpoint:
            bar.message(f"resuming at iteration {start} from {checkpoint.path}")
        if settings.engine == "darknet":
            argv, parse = self._darknet_argv(settings, checkpoint), parse_iteration
        else:
            argv = self._torch_argv(settings, resume=checkpoint is not None)
            batch = self.sections()[0].get_int("batch", 1)

            def parse(line: str) -> Iteration | None:
                return parse_torch_iteration(line, batch)
        with open(self.log, "a") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start at iteration {start}: "
                      f"{' '.join(argv)}\n")
        # torch_train writes its own loss.csv; darknet's lines are logged here
        loss_fh = open(self.loss_csv, "a") if settings.engine == "darknet" else None

        def on_iteration(it: Iteration) -> None:
            if loss_fh is not None:
                loss_fh.write(f"{it.iteration},{it.loss:.6g},{it.avg_loss:.6g},{it.rate:.6g},"
                              f"{it.seconds:.4f},{it.images}\n")
                loss_fh.flush()
            bar.update(it)
        try:
            with StopRequest() as stop:
                outcome = drive(argv, self.dir, self.log, on_iteration, parse, stop)
        except OSError as exc:
            raise EngineUnavailable(f"cannot start {argv[0]}: {exc.strerror}") from exc
        finally:
            if loss_fh is not None:
                loss_fh.close()
            bar.close()
        if outcome.interrupted:
            done = self.checkpoint()
            raise Interrupted(self.dir, outcome.last_iteration, done.iteration if done else None)
        if outcome.open_errors:
            raise RunError(f"darknet could not open {outcome.open_errors[0]} (see {self.log})")
        if not self._final_weights(settings).is_file():
            raise RunError(f"{settings.engine} stopped (exit status {outcome.returncode}) before "
                           f"writing {self._final_weights(settings)}; the end of {self.log} says why")
        return self.finish(settings)

    def _final_weights(self, settings: RunSettings) -> Path:
        if settings.engine == "darknet":
            return self.backup / f"{cfg_base(self.cfg_path)}_final.weights"
        return self.dir / "final.weights"

    def _pretrained(self, settings: RunSettings) -> Path | None:
        """The weights darknet starts from: the given file, or its backbone cut by `darknet partial`
        where the cfgs part (pjreddie reads weights in order without checking their shapes)."""
        if not settings.weights:
            return None
        weights = Path(settings.weights)
        if settings.weights_cfg is None:
            return weights
        cut = backbone_cut(read_cfg(settings.weights_cfg), self.sections())
        if cut is None:
            return weights
        if cut == 0:
            raise RunError(f"{weights} ({settings.weights_cfg}) shares no layer with {settings.cfg}")
        out = self.dir / "pretrained" / f"{weights.stem}.conv.{cut}"
        if not out.is_file():
            out.parent.mkdir(exist_ok=True)
            part = out.with_name(out.name + ".part")  # renamed once complete: a cut-short file never counts
            argv = [settings.darknet, "partial", settings.weights_cfg, str(weights), str(part), str(cut)]
            with open(self.log, "a") as log:
                log.write(f"\n=== {' '.join(argv)}\n")
                log.flush()
                try:
                    rc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir).returncode
                except OSError as exc:
                    raise EngineUnavailable(f"cannot run {settings.darknet}: {exc.strerror} "
                                            "(apt-get install darknet, or pass --darknet PATH)") from exc
            if rc != 0 or not part.is_file():
                raise RunError(f"`darknet partial` failed (exit status {rc}); see {self.log}")
            part.replace(out)
        return out

    def _darknet_argv(self, settings: RunSettings, checkpoint: Checkpoint | None) -> list[str]:
        if shutil.which(settings.darknet) is None:
            raise EngineUnavailable(f"darknet CLI {settings.darknet!r} not found (apt-get install "
                                    "darknet, or pass --darknet PATH)")
        argv = [settings.darknet, "detector", "train", str(self.data_path.absolute()),
                str(self.cfg_path.absolute())]
        if checkpoint is not None:
            return argv + [str(checkpoint.path.absolute())]
        pretrained = self._pretrained(settings)
        # -clear zeroes the pretrained file's batch count, so the schedule starts at batch 0
        return argv + ([str(pretrained.absolute()), "-clear"] if pretrained else [])

    def _torch_argv(self, settings: RunSettings, resume: bool) -> list[str]:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise EngineUnavailable("the torch engine needs PyTorch, which is not installed: "
                                    "pip install torch (or use --engine darknet)")
        data = run_data(self.data_path)
        sections = self.sections()
        net = sections[0]
        batch = net.get_int("batch", 64)
        total = net.get_int("max_batches", 1)
        argv = [sys.executable, "-u", "-m", "gunwatch.training.pytorch.torch_train", "--cfg", str(self.cfg_path),
                "--train", data["train"], "--out", str(self.dir), "--iterations", str(total),
                "--batch", str(batch),
                "--micro-batch", str(max(1, batch // max(1, net.get_int("subdivisions", 1)))),
                "--img-size", str(net.get_int("width", 416)), "--lr", str(net.get_float("learning_rate", 0.001)),
                "--burn-in", str(net.get_int("burn_in", 0)), "--threads", str(settings.threads),
                "--loader-threads", str(settings.loader_threads),
                "--seed", str(settings.seed), "--print-every", "1", "--checkpoint-minutes", "1",
                "--eval-every", str(settings.eval_every or max(1, min(200, total)))]
        for flag, value in (("--unfreeze-at", settings.unfreeze_at), ("--multi-scale", settings.multi_scale),
                            ("--ema", settings.ema), ("--zoom-out", settings.zoom_out or None)):
            if value is not None:
                argv += [flag, str(value)]
        if settings.bf16:
            argv.append("--bf16")
        if data.get("valid"):
            argv += ["--valid", data["valid"]]
        # AlexeyAB's cfg keys for mosaic pictures and for several anchors per truth. pjreddie's
        # darknet ignores both ("Unused field"), so such a cfg still trains and runs everywhere.
        if net.get_int("mosaic", 0):
            argv += ["--mosaic", "0.5"]
        iou_thresh = min((y.get_float("iou_thresh", 1.0) for y in sections if y.kind == "yolo"),
                         default=1.0)
        if iou_thresh < 1.0:
            argv += ["--iou-thresh", str(iou_thresh)]
        if resume:
            argv.append("--resume")
        elif settings.weights:
            argv += ["--weights", settings.weights]
            if settings.weights_cfg:
                argv += ["--weights-cfg", settings.weights_cfg]
        return argv

    # --- results ----------------------------------------------------------------------------
    def _darknet_choice(self, settings: RunSettings, names: list[str]) -> tuple[Path, dict]:
        """darknet computes no mAP while training: with --select best, every complete backup is
        scored on the valid list (OpenCV backend, as darknet's `detector map` would: thresh
        0.005) and the best is shipped; map.csv and best.json record it for the bundle."""
        final = self._final_weights(settings)
        valid = run_data(self.data_path).get("valid")
        if settings.select != "best" or not valid:
            return final, {"valid_map50": None, "selected": "final"}
        from gunwatch.model import InputSpec, ModelBundle, ModelMeta

        from ..metrics.report import evaluate_model

        pairs = [(img, lab) for img, lab in labelled(read_list(valid)) if lab.is_file()]
        net = self.sections()[0]
        meta = ModelMeta(name=self.dir.name, classes=names,
                         input=InputSpec(width=net.get_int("width", 416), height=net.get_int("height", 416)))
        map_csv = self.dir / "map.csv"
        scored: dict[int, dict] = {}
        if map_csv.exists():
            with open(map_csv, newline="") as fh:
                scored = {int(r["iteration"]): r for r in csv.DictReader(fh)}
        files = {c.iteration: c.path for c in complete_backups(self.backup, cfg_base(self.cfg_path),
                                                                self.sections())}
        for iteration, path in sorted(files.items()):
            if iteration in scored:
                continue
            bundle = ModelBundle(cfg=self.dir / "model.cfg", weights=path, names=names, meta=meta,
                                 source=self.dir)
            r = evaluate_model(bundle, pairs, "opencv", progress=False)
            scored[iteration] = {"iteration": iteration, "map50": f"{r['map50']:.4f}",
                                 "precision_at_0.5": f"{r['precision']:.4f}", "recall_at_0.5": f"{r['recall']:.4f}"}
        with open(map_csv, "w") as fh:
            fh.write("iteration,map50,precision_at_0.5,recall_at_0.5\n")
            for it in sorted(scored):
                row = scored[it]
                fh.write(f"{it},{row['map50']},{row['precision_at_0.5']},{row['recall_at_0.5']}\n")
        # ties go to the later checkpoint: more training for the same score
        best_it = max(files, key=lambda it: (float(scored[it]["map50"]), it))
        (self.dir / "best.json").write_text(json.dumps(
            {"iteration": best_it, "map": float(scored[best_it]["map50"]), "weights": files[best_it].name,
             "valid_images": len(pairs)}, indent=1) + "\n")
        return files[best_it], {"selected": f"best valid mAP@0.50 of {len(files)} backups"}

    def finish(self, settings: RunSettings) -> RunResult:
        """loss.png, and the model bundle holding the chosen weights."""
        from . import bundle as bundle_mod

        names = read_names(run_data(self.data_path)["names"])
        if settings.engine == "darknet":
            weights, metrics = self._darknet_choice(settings, names)
        else:
            best = self.dir / "best.weights"
            weights = best if best.is_file() else self._final_weights(settings)
            metrics = {"selected": "best valid mAP@0.50" if best.is_file() else "final"}
        loss = self.loss_rows()
        if loss:
            bundle_mod.plot_loss(self.loss_csv, self.dir / "map.csv", self.dir / "loss.png")
        final_loss = loss[-1][1] if loss else None
        final_avg = loss[-1][2] if loss else None
        secs = [r[3] for r in loss if r[3] is not None and math.isfinite(r[3])]
        spi = sum(secs) / len(secs) if secs else None
        metrics.update({"final_loss": final_loss, "final_avg_loss": final_avg})
        # Named from the layers: the cfg files' names (start.cfg, model.cfg) say nothing
        architecture = architecture_of(self.sections()) or f"darknet cfg {Path(settings.cfg).name}"
        provenance = {"engine": settings.engine, "iterations": self.max_batches(), "data": settings.data,
                      "cfg": settings.cfg, "pretrained": settings.weights,
                      "weights_file": str(weights.relative_to(self.dir))}
        bundle_mod.write_bundle(self.dir, self.bundle, settings.name or self.dir.name, names,
                                architecture=architecture, weights=str(weights.relative_to(self.dir)),
                                metrics=metrics, provenance=provenance)
        return RunResult(self.dir, settings.engine, self.max_batches(), self.bundle, weights,
                         final_loss, final_avg, spi)

    def loss_rows(self) -> list[tuple[int, float, float, float | None]]:
        if not self.loss_csv.exists():
            return []
        with open(self.loss_csv, newline="") as fh:
            return [(int(r["iteration"]), float(r["loss"]), float(r["avg_loss"]),
                     float(r["seconds"]) if r.get("seconds") else None) for r in csv.DictReader(fh)]


def start_or_resume(run_dir: Path, settings: RunSettings | None, *, resume: bool,
                    iterations: int | None = None, bar_stream: TextIO | None = None,
                    bar_tty: bool | None = None, label: str | None = None) -> RunResult:
    """`gunwatch train run` in one call: create the run (settings given) or continue it."""
    run = Run(run_dir)
    if resume:
        if iterations is not None and iterations != run.max_batches():
            run.set_iterations(iterations)
    else:
        if settings is None:
            raise RunError("a new run needs its settings (--data, --cfg, --weights)")
        run.create(settings)
    return run.train(resume=resume, bar_stream=bar_stream, bar_tty=bar_tty, label=label)
