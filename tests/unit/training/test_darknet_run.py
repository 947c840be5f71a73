"""`train run` pieces without running an engine: darknet's output lines, its backup rule and
label-path rule, picking the checkpoint to resume from, cfg overrides, and the run folder checks."""
from __future__ import annotations

import io
import math
import struct

import pytest

from gunwatch.training.arch.darknet_cfg import conv_specs, make_n_class_cfg, parse_cfg_text, read_cfg, write_cfg
from gunwatch.training.runs.darknet_cli import (backbone_cut, backups_after, cfg_base, darknet_label_path,
                                           images_per_iteration, latest_checkpoint, parse_iteration,
                                           parse_torch_iteration)
from gunwatch.training.runs.darknet_run import Run, RunError, RunSettings, training_cfg
from gunwatch.training.runs.engine import TrainBar
from gunwatch.darknet.weights import WeightsHeader, expected_size

from tests.conftest import need_torch

from ._paths import need_coco

# printed by Debian's darknet 0.0.0+git20180914 during `detector train` on this machine
DARKNET_LINES = """\
Loaded: 0.027653 seconds
Region 16 Avg IOU: -nan, Class: -nan, Obj: -nan, No Obj: 0.515565, .5R: -nan, .75R: -nan,  count: 0
1: 21.734808, 21.734808 avg, 0.001000 rate, 0.388520 seconds, 2 images
Saving weights to /tmp/run/backup/train.backup
12: -nan, 20.471857 avg, 0.000100 rate, 98.248864 seconds, 768 images
"""

SMALL_CFG = """\
[net]
batch=8
subdivisions=2
width=32
height=32
channels=3
max_batches=50

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
"""


def test_darknet_iteration_lines():
    parsed = [parse_iteration(line) for line in DARKNET_LINES.splitlines()]
    assert parsed[0] is None and parsed[1] is None and parsed[3] is None
    first = parsed[2]
    assert (first.iteration, first.loss, first.avg_loss, first.rate, first.images) == (1, 21.734808, 21.734808,
                                                                                    0.001, 2)
    assert first.seconds == pytest.approx(0.38852)
    late = parsed[4]
    assert late.iteration == 12 and math.isnan(late.loss) and late.avg_loss == pytest.approx(20.471857)


def test_torch_iteration_line():
    line = "it 3/10 loss 12.345 avg 13.000 lr 0.000100 size 128 1.23 s/it ETA 0h00m"
    it = parse_torch_iteration(line, batch=4)
    assert (it.iteration, it.loss, it.avg_loss, it.rate, it.seconds, it.images) == (3, 12.345, 13.0, 1e-4,
                                                                                   1.23, 12)
    assert parse_torch_iteration("eval it 3: mAP@0.50 0.1000 P@0.5 0.000", batch=4) is None


def test_pjreddie_backup_rule():
    assert backups_after(100, "gun") == ["gun.backup", "gun_100.weights"]
    assert backups_after(150, "gun") == []
    assert backups_after(900, "gun") == ["gun.backup", "gun_900.weights"]
    assert backups_after(1000, "gun") == ["gun.backup"]  # numbered files stop at 900 ...
    assert backups_after(1100, "gun") == ["gun.backup"]
    assert backups_after(20000, "gun") == ["gun.backup", "gun_20000.weights"]  # ... until 10000s
    assert cfg_base(__import__("pathlib").Path("/x/yolov3-tiny.gun.cfg")) == "yolov3-tiny"


def test_darknet_label_path_replaces_first_match_only():
    assert darknet_label_path("/d/images/a.jpg") == "/d/labels/a.txt"
    assert darknet_label_path("/d/images/a.png") == "/d/labels/a.txt"
    # the first "images" is the one replaced, even in a parent folder's name
    assert darknet_label_path("/t/test_images0/ds/images/a.jpg") == "/t/test_labels0/ds/images/a.txt"
    assert darknet_label_path("/d/images/a.jpeg") == "/d/labels/a.jpeg"  # not a suffix darknet knows


def test_images_per_iteration_as_darknet_counts_seen():
    cfg = parse_cfg_text(SMALL_CFG)
    assert images_per_iteration(cfg[0]) == 8
    cfg[0].options.update(batch="10", subdivisions="4")
    assert images_per_iteration(cfg[0]) == 8  # net->batch = 10 / 4 = 2 per subdivision


def _weights_file(path, sections, seen, cut=0):
    header = WeightsHeader(seen=seen)
    size = expected_size(conv_specs(sections), header)
    path.write_bytes((struct.pack("<iiiQ", 0, 2, 0, seen) + bytes(size - 20))[:size - cut])


def test_latest_checkpoint_takes_most_batches_among_complete_files(tmp_path):
    sections = parse_cfg_text(SMALL_CFG)
    assert latest_checkpoint(tmp_path, "gun", sections) is None
    _weights_file(tmp_path / "gun_100.weights", sections, seen=800)
    _weights_file(tmp_path / "gun_200.weights", sections, seen=1600)
    _weights_file(tmp_path / "gun.backup", sections, seen=2400, cut=4)  # killed while writing
    _weights_file(tmp_path / "other_900.weights", sections, seen=7200)  # another cfg's backups
    found = latest_checkpoint(tmp_path, "gun", sections)
    assert found.path.name == "gun_200.weights" and found.iteration == 200
    _weights_file(tmp_path / "gun.backup", sections, seen=2400)
    assert latest_checkpoint(tmp_path, "gun", sections).iteration == 300


def test_backbone_cut_finds_the_first_layer_that_changes_shape():
    coco_cfg, _ = need_coco()
    coco = read_cfg(coco_cfg)
    gun = make_n_class_cfg(coco, 1)
    assert backbone_cut(coco, gun) == 15  # yolov3-tiny.conv.15, the usual transfer cut
    assert backbone_cut(coco, coco) is None
    assert backbone_cut(coco, coco[:5]) == 4


def test_training_cfg_overrides_and_scales_the_schedule(tmp_path):
    coco_cfg, _ = need_coco()
    cfg = tmp_path / "gun.cfg"
    write_cfg(make_n_class_cfg(read_cfg(coco_cfg), 1, burn_in=1000), cfg)
    s = training_cfg(RunSettings(engine="darknet", data="x", cfg=str(cfg), iterations=200, batch=4,
                                 subdivisions=2, size=128, random=False))
    net = s[0].options
    assert (net["max_batches"], net["steps"], net["burn_in"]) == ("200", "160,180", "20")
    assert (net["batch"], net["subdivisions"], net["width"], net["height"]) == ("4", "2", "128", "128")
    assert {sec.options["random"] for sec in s if sec.type == "yolo"} == {"0"}


def _dataset(tmp_path, classes=1, label=True):
    (tmp_path / "ds" / "images").mkdir(parents=True)
    (tmp_path / "ds" / "labels").mkdir()
    image = tmp_path / "ds" / "images" / "a.jpg"
    image.write_bytes(b"")
    if label:
        (tmp_path / "ds" / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "train.txt").write_text(f"{image}\n")
    (tmp_path / "obj.names").write_text("gun\n")
    data = tmp_path / "obj.data"
    data.write_text(f"classes={classes}\ntrain={tmp_path / 'train.txt'}\nnames={tmp_path / 'obj.names'}\n"
                    f"backup={tmp_path / 'elsewhere'}\n")
    return data


def _gun_cfg(tmp_path):
    coco_cfg, _ = need_coco()
    cfg = tmp_path / "gun.cfg"
    write_cfg(make_n_class_cfg(read_cfg(coco_cfg), 1, batch=2, subdivisions=1, width=96, height=96,
                               max_batches=10), cfg)
    return cfg


def test_run_folder_is_set_up_and_refuses_a_second_start(tmp_path):
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    run = Run(tmp_path / "run")
    run.create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg)))
    assert f"backup={run.backup.absolute()}" in run.data_path.read_text()  # backups land in the run
    assert "batch=1\n" in (run.dir / "model.cfg").read_text()
    assert run.settings().cfg == str(cfg) and run.max_batches() == 10
    with pytest.raises(RunError, match="--resume"):
        run.create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg)))


def test_torch_engine_takes_mosaic_and_iou_thresh_from_the_cfg(tmp_path):
    need_torch()
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    plain = Run(tmp_path / "plain")
    settings = RunSettings(engine="torch", data=str(data), cfg=str(cfg))
    plain.create(settings)
    argv = plain._torch_argv(settings, resume=False)
    assert "--mosaic" not in argv and "--iou-thresh" not in argv
    sections = read_cfg(cfg)
    sections[0].options["mosaic"] = "1"
    for s in sections:
        if s.kind == "yolo":
            s.options["iou_thresh"] = "0.213"
    write_cfg(sections, cfg)
    tuned = Run(tmp_path / "tuned")
    tuned.create(settings)
    argv = tuned._torch_argv(settings, resume=False)
    assert argv[argv.index("--mosaic") + 1] == "0.5"
    assert argv[argv.index("--iou-thresh") + 1] == "0.213"


def test_torch_engine_gets_the_loader_threads_asked_for(tmp_path):
    need_torch()
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    run = Run(tmp_path / "run")
    settings = RunSettings(engine="torch", data=str(data), cfg=str(cfg), loader_threads=6)
    run.create(settings)
    argv = run._torch_argv(run.settings(), resume=False)
    assert argv[argv.index("--loader-threads") + 1] == "6"


def test_run_refuses_a_cfg_with_other_classes(tmp_path):
    data, cfg = _dataset(tmp_path, classes=2), _gun_cfg(tmp_path)
    with pytest.raises(RunError, match=r"detects \[1\] classes .* classes=2.*train config"):
        Run(tmp_path / "run").create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg)))


def test_run_refuses_images_whose_labels_darknet_would_not_find(tmp_path):
    data, cfg = _dataset(tmp_path, label=False), _gun_cfg(tmp_path)
    with pytest.raises(RunError, match="no labels for 1 of 1 images"):
        Run(tmp_path / "run").create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg)))


def test_trim_loss_drops_batches_after_the_checkpoint(tmp_path):
    run = Run(tmp_path)
    run.loss_csv.write_text("iteration,loss,avg_loss,rate,seconds,images\n"
                            + "".join(f"{i},1,1,0.001,0.5,{2 * i}\n" for i in range(1, 8)))
    run.trim_loss(5)
    assert [r[0] for r in run.loss_rows()] == [1, 2, 3, 4, 5]


def test_bar_eta_and_plain_lines():
    out = io.StringIO()
    bar = TrainBar(10, "darknet", out, tty=False, every_s=3600)
    it = parse_iteration("1: 2.0, 2.0 avg, 0.001 rate, 0.5 seconds, 2 images")
    bar.update(it)
    assert bar.eta_s(1, 100.0) is None  # one point: no pace yet
    bar.first = (1, 0.0)
    assert bar.eta_s(5, 8.0) == pytest.approx(2.0 * 5)  # 2 s per iteration, 5 to go
    bar.update(parse_iteration("10: 1.0, 1.5 avg, 0.001 rate, 0.5 seconds, 20 images"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("darknet [") and "1/10 loss 2.000 avg 2.000" in lines[0]
    assert "10/10" in lines[1] and "ETA" in lines[1]


def test_pretrained_weights_must_fit_their_cfg(tmp_path):
    coco_cfg, _ = need_coco()
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    wrong = tmp_path / "small.weights"
    _weights_file(wrong, parse_cfg_text(SMALL_CFG), seen=0)
    settings = RunSettings(engine="darknet", data=str(data), cfg=str(cfg), weights=str(wrong),
                           weights_cfg=str(coco_cfg))
    with pytest.raises(RunError, match="does not fit .*--weights-cfg"):
        Run(tmp_path / "run").create(settings)
    settings.weights_cfg = None  # a partial file must not be larger than the trained cfg's weights
    _weights_file(wrong, make_n_class_cfg(read_cfg(coco_cfg), 80), seen=0)
    with pytest.raises(RunError, match="more weights than"):
        Run(tmp_path / "run").create(settings)


def test_resume_can_extend_the_run(tmp_path):
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    run = Run(tmp_path / "run")
    run.create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg), iterations=100))
    run.set_iterations(300)
    net = run.sections()[0].options
    assert (net["max_batches"], net["steps"]) == ("300", "240,270")
    assert run.settings().iterations == 300 and run.settings().cfg == str(cfg)
    assert "max_batches=300" in (run.dir / "model.cfg").read_text()


def test_run_keeps_its_own_lists_and_torch_options(tmp_path):
    """A run outside the checkout must resume after the prepared folder's lists are gone, with the
    recipe it was started with."""
    need_torch()
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    (tmp_path / "valid.txt").write_text("images/a.jpg\n")  # relative: read from the list's folder
    data.write_text(data.read_text() + f"valid={tmp_path / 'valid.txt'}\n")
    run = Run(tmp_path / "elsewhere" / "run")
    settings = RunSettings(engine="torch", data=str(data), cfg=str(cfg), unfreeze_at=200, multi_scale=320,
                           ema=0.995, zoom_out=0.25, bf16=True, eval_every=50, seed=28)
    run.create(settings)
    (tmp_path / "train.txt").unlink()
    (tmp_path / "valid.txt").unlink()
    argv = run._torch_argv(run.settings(), resume=True)
    assert argv[argv.index("--train") + 1] == str((run.dir / "train.txt").absolute())
    assert (run.dir / "train.txt").read_text() == f"{tmp_path / 'ds' / 'images' / 'a.jpg'}\n"
    assert (run.dir / "valid.txt").read_text() == f"{tmp_path / 'images' / 'a.jpg'}\n"
    options = {flag: argv[argv.index(flag) + 1] for flag in
               ("--unfreeze-at", "--multi-scale", "--ema", "--zoom-out", "--eval-every", "--seed")}
    assert options == {"--unfreeze-at": "200", "--multi-scale": "320", "--ema": "0.995",
                       "--zoom-out": "0.25", "--eval-every": "50", "--seed": "28"}
    assert "--bf16" in argv and "--resume" in argv and "--weights" not in argv


def test_torch_options_are_refused_for_darknet(tmp_path):
    data, cfg = _dataset(tmp_path), _gun_cfg(tmp_path)
    with pytest.raises(RunError, match="--ema, --zoom-out, --seed: options of the torch engine; add --engine torch"):
        Run(tmp_path / "run").create(RunSettings(engine="darknet", data=str(data), cfg=str(cfg), ema=0.99,
                                                 zoom_out=0.3, seed=5))
