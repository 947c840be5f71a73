"""Generated cfgs: the published layer structure (so pretrained weights load), the class-dependent
heads, the seed's [net] parameters, and `gunwatch train config`."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gunwatch.cli import main
from gunwatch.darknet import cfg as bindings_cfg
from gunwatch.darknet import weights as bindings_weights
from gunwatch.errors import ConfigError
from gunwatch.training.arch.cfg_gen import ARCHITECTURES, TrainParams, architecture_of, generate_cfg, generate_sections
from gunwatch.training.arch.darknet_cfg import conv_specs, parse_cfg_text, read_cfg
from tests.conftest import PISTOLS, WEIGHTS, need

YOLOV3_COCO_FLOATS = 62_001_757  # pjreddie's yolov3.weights: 248,007,048 bytes less the 20-byte header


def coco(arch: str):
    cfg, weights = WEIGHTS / f"{arch}.cfg", WEIGHTS / f"{arch}.weights"
    need(cfg.exists() and weights.exists(), f"no COCO {arch} in {WEIGHTS}")
    return cfg, weights


def write(tmp_path, text: str, name: str = "gen.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("arch", ["yolov3-tiny", "yolov4-tiny"])
def test_80_class_cfg_has_the_coco_layers_and_takes_its_weights(arch, tmp_path):
    cfg, weights = coco(arch)
    generated = write(tmp_path, generate_cfg(arch, 80))
    bindings_weights.check_weights(generated, weights)  # exactly the parameters the COCO file holds
    stock, ours = read_cfg(cfg)[1:], parse_cfg_text(generated.read_text())[1:]
    assert [s.type for s in ours] == [s.type for s in stock]
    for i, (a, b) in enumerate(zip(stock, ours)):
        differing = {k for k in set(a.options) | set(b.options) if a.options.get(k) != b.options.get(k)}
        # yolov4-tiny's stock second head leaves anchor 0 unused (mask 1,2,3); ours uses all six
        allowed = {"mask"} if (arch, i, a.options.get("mask")) == ("yolov4-tiny", 37, "1,2,3") else set()
        assert differing <= allowed, f"layer {i} [{a.type}]: {differing}"


def test_generated_yolov3_tiny_gives_the_stock_outputs_in_opencv(tmp_path):
    cfg, weights = coco("yolov3-tiny")
    generated = write(tmp_path, generate_cfg("yolov3-tiny", 80))
    blob = cv2.dnn.blobFromImage(np.random.default_rng(0).integers(0, 256, (416, 416, 3), np.uint8),
                                 1 / 255.0, (416, 416), swapRB=True)
    outputs = []
    for path in (cfg, generated):
        net = cv2.dnn.readNetFromDarknet(str(path), str(weights))
        net.setInput(blob)
        outputs.append(net.forward(net.getUnconnectedOutLayersNames()))
    for stock, ours in zip(*outputs):
        np.testing.assert_array_equal(stock, ours)


def test_one_class_changes_only_the_heads():
    for arch in ("yolov3", "yolov3-tiny", "yolov4-tiny"):
        one, eighty = conv_specs(generate_sections(arch, 1)), conv_specs(generate_sections(arch, 80))
        heads = [i for i, (a, b) in enumerate(zip(one, eighty)) if a != b]
        layers = generate_sections(arch, 1)[1:]
        yolos = [i for i, s in enumerate(layers) if s.type == "yolo"]
        assert [one[i].layer + 1 for i in heads] == yolos
        assert all(one[i].filters == 18 and eighty[i].filters == 255 for i in heads)
        assert {s.options["classes"] for s in layers if s.type == "yolo"} == {"1"}


def test_yolov3_is_darknet53_with_three_heads(tmp_path):
    sections = generate_sections("yolov3", 80)
    layers = sections[1:]
    assert len(layers) - 1 == 106  # darknet numbers them 0 .. 106
    assert [i for i, s in enumerate(layers) if s.type == "yolo"] == [82, 94, 106]
    assert [s.options["mask"] for s in layers if s.type == "yolo"] == ["6,7,8", "3,4,5", "0,1,2"]
    routes = {i: s.options["layers"] for i, s in enumerate(layers) if s.type == "route"}
    assert routes == {83: "-4", 86: "-1,61", 95: "-4", 98: "-1,36"}
    assert sum(s.type == "shortcut" for s in layers) == 23
    path = write(tmp_path, generate_cfg("yolov3", 80))
    assert bindings_weights.expected_floats(bindings_cfg.read_cfg(path)) == YOLOV3_COCO_FLOATS


def test_net_section_is_the_seed_recipe():
    net = generate_sections("yolov3", 3)[0].options
    assert {k: net[k] for k in ("batch", "subdivisions", "width", "height", "momentum", "decay",
                                "learning_rate", "burn_in", "max_batches", "steps", "scales")} == {
        "batch": "64", "subdivisions": "16", "width": "416", "height": "416", "momentum": "0.9",
        "decay": "0.0005", "learning_rate": "0.001", "burn_in": "1000", "max_batches": "6000",
        "steps": "4800,5400", "scales": ".1,.1"}
    custom = generate_sections("yolov3-tiny", 1, params=TrainParams(width=608, height=320, max_batches=500))[0]
    assert (custom.options["width"], custom.options["height"], custom.options["steps"]) == ("608", "320", "400,450")


def test_anchors_go_into_every_head():
    anchors = [(5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
    text = generate_cfg("yolov4-tiny", 2, anchors)
    yolos = [s for s in parse_cfg_text(text) if s.type == "yolo"]
    assert {s.options["anchors"] for s in yolos} == {"5,6,7,8,9,10,11,12,13,14,15,16"}
    assert {s.options["num"] for s in yolos} == {"6"}


def test_architecture_is_told_by_the_layers():
    """A run's bundle names its network from the cfg's layers, not from the cfg file's name."""
    for arch in ARCHITECTURES:
        anchors = [(10 + i, 12 + i) for i in range(9 if arch == "yolov3" else 6)]
        assert architecture_of(parse_cfg_text(generate_cfg(arch, 3, anchors))) == arch
    stock = WEIGHTS / "yolov4-tiny.cfg"
    if stock.exists():
        assert architecture_of(read_cfg(stock)) == "yolov4-tiny"
    extra_layer = generate_sections("yolov3-tiny", 1)
    extra_layer.insert(3, extra_layer[2])
    assert architecture_of(extra_layer) is None


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="takes 9 anchors"):
        generate_cfg("yolov3", 1, [(1, 1)] * 6)
    with pytest.raises(ValueError, match="classes must be"):
        generate_cfg("yolov3-tiny", 0)
    with pytest.raises(ValueError, match="unknown architecture"):
        generate_cfg("yolov5", 1)
    with pytest.raises(ValueError, match="multiples of 32"):
        generate_cfg("yolov3-tiny", 1, params=TrainParams(width=400))


def test_train_config_command_on_the_pistols(tmp_path, capsys):
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    out = tmp_path / "gun.cfg"
    assert main(["train", "config", "--data", str(PISTOLS), "--arch", "yolov3-tiny", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "6217 train images" in err
    fitted = [line for line in err.splitlines() if line.startswith("anchors = ")][0]
    sections = read_cfg(out)
    yolo = next(s for s in sections if s.type == "yolo")
    assert yolo.options["anchors"] == "".join(fitted.removeprefix("anchors = ").split())
    assert yolo.options["classes"] == "1" and sections[0].options["max_batches"] == "2000"
    bindings_weights.expected_floats(bindings_cfg.read_cfg(out))  # darknet's view parses too
    # the same data and seed give the same cfg
    assert main(["train", "config", "--data", str(PISTOLS), "--arch", "yolov3-tiny"]) == 0
    assert capsys.readouterr().out == out.read_text()


def test_train_config_without_data_needs_classes_and_default_anchors(capsys):
    with pytest.raises(ConfigError, match="--data needed"):
        from gunwatch.cli import build_parser

        args = build_parser().parse_args(["train", "config", "--classes", "2"])
        args.run(args)
    assert main(["train", "config", "--classes", "2", "--anchors", "default", "--arch", "yolov3"]) == 0
    assert "filters before each [yolo] = (classes + 5) * 3 = 21" in capsys.readouterr().out


def test_conv_specs_count_route_groups_as_darknet_does():
    """The training tools' layer shapes come from the shared parser, which halves the channels
    of yolov4-tiny's `groups=2` routes: the specs then add up to the COCO weights file."""
    cfg, weights = coco("yolov4-tiny")
    specs = conv_specs(read_cfg(cfg))
    floats = sum(s.filters * (4 if s.batch_normalize else 1) + s.n_weights for s in specs)
    assert floats == (weights.stat().st_size - bindings_weights.read_header_file(weights).size) // 4
