"""What Debian's darknet CLI (pjreddie, 2018) prints and writes while it trains, read from its
source (examples/detector.c, src/data.c, src/utils.c), and the trainer's line for torch runs.

`darknet detector train`:
- prints `N: loss, avg avg, rate rate, seconds seconds, images images` after each batch N;
- saves `backup/BASE.backup` when N % 100 == 0, `backup/BASE_N.weights` when N < 1000 and
  N % 100 == 0 or N % 10000 == 0, and `backup/BASE_final.weights` at max_batches (BASE: the cfg
  file name up to its first dot); there is no `_last` file in this darknet;
- counts batches from the `seen` images in the weights header, so restarting it with a backup
  continues the count, while `-clear` (used on a fresh start) zeroes a pretrained file's count;
- finds an image's labels by text replacement in its path (`darknet_label_path`);
- exits with status 0 even when it cannot open a file ("Couldn't open file: X").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..arch.darknet_cfg import Section, conv_specs, layer_sections
from ...darknet.weights import is_complete

CHECKPOINT_EVERY = 100  # pjreddie writes BASE.backup every 100 batches

_NUM = r"[-+]?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
ITERATION_RE = re.compile(
    rf"^\s*(\d+): ({_NUM}), ({_NUM}) avg, ({_NUM}) rate, ({_NUM}) seconds, (\d+) images\s*$")
TORCH_ITERATION_RE = re.compile(
    rf"^it (\d+)/(\d+) loss ({_NUM}) avg ({_NUM}) lr ({_NUM}) size \d+ ({_NUM}) s/it\b")
SAVING_RE = re.compile(r"^Saving weights to (.+?)\s*$")
OPEN_ERROR_RE = re.compile(r"^Couldn't open file: (.+?)\s*$")


@dataclass(frozen=True)
class Iteration:
    """One training batch as the engine reported it."""

    iteration: int
    loss: float
    avg_loss: float
    rate: float
    seconds: float
    images: int


def parse_iteration(line: str) -> Iteration | None:
    """darknet's per-batch line, e.g. ``12: 20.1, 21.5 avg, 0.001 rate, 0.25 seconds, 24 images``."""
    m = ITERATION_RE.match(line)
    if not m:
        return None
    n, loss, avg, rate, secs, imgs = m.groups()
    return Iteration(int(n), float(loss), float(avg), float(rate), float(secs), int(imgs))


def parse_torch_iteration(line: str, batch: int) -> Iteration | None:
    """torch_train's ``it N/M loss X avg Y lr Z size S T s/it ETA ...`` line."""
    m = TORCH_ITERATION_RE.match(line)
    if not m:
        return None
    n, _, loss, avg, rate, secs = m.groups()
    return Iteration(int(n), float(loss), float(avg), float(rate), float(secs), int(n) * batch)


def cfg_base(cfg: Path) -> str:
    """darknet's basecfg(): the file name up to its first dot, which names the backups."""
    return cfg.name.split(".", 1)[0]


def backups_after(iteration: int, base: str) -> list[str]:
    """File names pjreddie's train_detector writes into the backup folder after batch N."""
    names = []
    if iteration % CHECKPOINT_EVERY == 0:
        names.append(f"{base}.backup")
    if iteration % 10000 == 0 or (iteration < 1000 and iteration % 100 == 0):
        names.append(f"{base}_{iteration}.weights")
    return names


def darknet_label_path(image: str) -> str:
    """Where darknet looks for an image's labels (data.c fill_truth_detection): the FIRST
    occurrence of each pattern is replaced, wherever it is in the path."""
    path = image
    for old, new in (("images", "labels"), ("JPEGImages", "labels"), ("raw", "labels"),
                     (".jpg", ".txt"), (".png", ".txt"), (".JPG", ".txt"), (".JPEG", ".txt")):
        path = path.replace(old, new, 1)
    return path


def images_per_iteration(net: Section) -> int:
    """Images in one batch as darknet counts ``seen``: (batch // subdivisions) * subdivisions."""
    batch, subdivisions = net.get_int("batch", 1), max(1, net.get_int("subdivisions", 1))
    return max(1, batch // subdivisions) * subdivisions


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    iteration: int


def complete_backups(backup_dir: Path, base: str, sections: list[Section]) -> list[Checkpoint]:
    """Every backup of this cfg that is whole (a file cut short by a kill during its write is
    left out, as darknet would misread it silently), one per iteration, newest last."""
    specs = conv_specs(sections)
    per_iteration = images_per_iteration(sections[0])
    found: dict[int, Checkpoint] = {}
    # for one iteration prefer _final, then _N (neither is overwritten later), then .backup
    paths = [*sorted(backup_dir.glob(f"{base}_*.weights"), key=lambda p: not p.name.endswith("_final.weights")),
             backup_dir / f"{base}.backup"]
    for path in paths:
        header = is_complete(path, specs)
        if header is not None:
            iteration = header.seen // per_iteration
            found.setdefault(iteration, Checkpoint(path, iteration))
    return [found[i] for i in sorted(found)]


def latest_checkpoint(backup_dir: Path, base: str, sections: list[Section]) -> Checkpoint | None:
    """The complete backup with the most batches done: where a resumed darknet starts."""
    backups = complete_backups(backup_dir, base, sections)
    return backups[-1] if backups else None


def backbone_cut(source: list[Section], target: list[Section]) -> int | None:
    """First layer whose weights differ in shape between two cfgs (None: all layers fit).
    `darknet partial` keeps the layers before it; darknet leaves the rest randomly initialised."""
    src_layers, dst_layers = layer_sections(source), layer_sections(target)
    src_conv = {s.layer: s for s in conv_specs(source)}
    dst_conv = {s.layer: s for s in conv_specs(target)}
    for i, (a, b) in enumerate(zip(src_layers, dst_layers)):
        if a.type != b.type or src_conv.get(i) != dst_conv.get(i):
            return i
    return None if len(src_layers) == len(dst_layers) else min(len(src_layers), len(dst_layers))
