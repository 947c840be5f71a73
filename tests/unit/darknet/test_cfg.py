"""cfg parsing and the weights-size check that stands in front of darknet's exit() paths."""

import struct

import pytest

from gunwatch.darknet import cfg as darknet_cfg
from gunwatch.darknet import weights as darknet_weights
from gunwatch.errors import ConfigError

from ...conftest import WEIGHTS, need

TINY = """[net]
width=64
height=32
channels=3
# a comment
[convolutional]
batch_normalize=1
filters=4
size=3
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
filters=18
size=1
activation=linear
[yolo]
classes=1
[route]
layers=-3
[convolutional]
filters=2
size=1
groups=2
"""


def write(tmp_path, text, name="m.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_and_count(tmp_path):
    sections = darknet_cfg.read_cfg(write(tmp_path, TINY))
    assert [s.kind for s in sections] == ["net", "convolutional", "maxpool", "convolutional", "yolo",
                                          "route", "convolutional"]
    assert darknet_cfg.input_size(sections) == (64, 32)
    assert darknet_cfg.output_classes(sections) == {1}
    # conv1: 4 bias + 3*4 bn + 4*3*3*3; conv2: 18 + 18*4; conv3 (route -> conv1, 4 ch, groups 2): 2 + 2*2
    assert darknet_weights.expected_floats(sections) == (4 + 12 + 108) + (18 + 72) + (2 + 4)


@pytest.mark.parametrize("text, message", [
    ("[convolutional]\nfilters=1\n", "must start with a [net]"),
    ("[net]\n[bogus]\n", "unknown darknet layer [bogus]"),
    ("[net\nwidth=1\n", "malformed section header"),
    ("[net]\nwidth\n", "expected `key=value`"),
])
def test_errors_name_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as exc:
        darknet_weights.expected_floats(darknet_cfg.read_cfg(path), path)
    assert str(path) in str(exc.value)


def test_weights_must_match(tmp_path):
    cfg = write(tmp_path, TINY)
    weights = tmp_path / "m.weights"
    n = darknet_weights.expected_floats(darknet_cfg.read_cfg(cfg))
    weights.write_bytes(struct.pack("<3iQ", 0, 2, 0, 0) + b"\0" * 4 * n)
    darknet_weights.check_weights(cfg, weights)
    weights.write_bytes(struct.pack("<3iQ", 0, 2, 0, 0) + b"\0" * 4 * (n + 1))
    with pytest.raises(ConfigError, match=f"holds {n + 1} parameters but .* needs {n}"):
        darknet_weights.check_weights(cfg, weights)
    # weights format 0.1 has a 32-bit `seen`
    weights.write_bytes(struct.pack("<3iI", 0, 1, 0, 0) + b"\0" * 4 * n)
    darknet_weights.check_weights(cfg, weights)


def test_missing_cfg(tmp_path):
    with pytest.raises(ConfigError, match="cannot read model cfg"):
        darknet_cfg.read_cfg(tmp_path / "nope.cfg")


@pytest.mark.parametrize("name", ["yolov3-tiny", "yolov4-tiny"])
def test_real_coco_weights_sizes(name):
    need((WEIGHTS / f"{name}.weights").exists(), f"no {name} weights in {WEIGHTS}")
    darknet_weights.check_weights(WEIGHTS / f"{name}.cfg", WEIGHTS / f"{name}.weights")


def test_coco_weights_into_wrong_cfg_refused():
    need((WEIGHTS / "yolov4-tiny.weights").exists(), f"no weights in {WEIGHTS}")
    with pytest.raises(ConfigError, match="belong to another cfg"):
        darknet_weights.check_weights(WEIGHTS / "yolov4-tiny.cfg", WEIGHTS / "yolov3-tiny.weights")


def test_beyond_pjreddie_names_each_section_and_its_options():
    text = (TINY.replace("[maxpool]", "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n[maxpool]")
            .replace("[yolo]", "[yolo]\nscale_x_y=1.05"))
    sections = darknet_cfg.parse_cfg_text(text)
    route_line = next(s.line for s in sections if s.kind == "route")
    yolo_line = next(s.line for s in sections if s.kind == "yolo")
    assert darknet_cfg.beyond_pjreddie(sections) == [
        f"[route] at line {route_line} (groups=2 group_id=1)",
        f"[yolo] at line {yolo_line} (scale_x_y=1.05)"]


def test_beyond_pjreddie_accepts_defaults_and_knows_unknown_layers_and_activations():
    defaults = (TINY.replace("[maxpool]", "[route]\nlayers=-1\ngroups=1\n[maxpool]")
                .replace("[yolo]", "[yolo]\nscale_x_y=1"))
    assert darknet_cfg.beyond_pjreddie(darknet_cfg.parse_cfg_text(defaults)) == []
    newer = TINY.replace("activation=leaky", "activation=mish") + "[sam]\nfrom=-2\n"
    problems = darknet_cfg.beyond_pjreddie(darknet_cfg.parse_cfg_text(newer))
    assert [p.split(" at ")[0] for p in problems] == ["[convolutional]", "[sam]"]
    assert "activation=mish" in problems[0] and "does not know" in problems[1]


def test_beyond_pjreddie_passes_the_coco_yolov3_tiny():
    cfg = WEIGHTS / "yolov3-tiny.cfg"
    need(cfg.exists(), f"no {cfg}")
    assert darknet_cfg.beyond_pjreddie(darknet_cfg.read_cfg(cfg)) == []
