"""darknet cfg parsing, writing and the N-class adaptation."""
from __future__ import annotations

import pytest

from gunwatch.training.arch.darknet_cfg import (CfgError, conv_specs, format_cfg, inference_cfg,
                                           make_n_class_cfg, parse_cfg_text, read_cfg, yolo_layers)

from ._paths import need_coco


def test_round_trip_keeps_sections_and_option_order():
    cfg, _ = need_coco()
    sections = read_cfg(cfg)
    again = parse_cfg_text(format_cfg(sections))
    assert [(s.type, list(s.options.items())) for s in again] == \
        [(s.type, list(s.options.items())) for s in sections]
    assert len(sections) == 25  # [net] + 24 layers
    assert sections[1].options == {"batch_normalize": "1", "filters": "16", "size": "3",
                                   "stride": "1", "pad": "1", "activation": "leaky"}


def test_whitespace_and_comments_as_darknet_reads_them():
    text = "# c\n[net]\nwidth = 416\n; other\n\n[maxpool]\nsize=2\n stride = 1 \n"
    s = parse_cfg_text(text)
    assert s[0].options == {"width": "416"}
    assert s[1].type == "maxpool" and s[1].get_int("stride", 0) == 1


@pytest.mark.parametrize("text, msg", [
    ("width=1\n[net]\n", "before any [section]"),
    ("[net]\nwidth\n", "expected `key=value`"),
    ("[convolutional]\n", "must start with a [net]"),
])
def test_errors_name_the_problem(text, msg):
    with pytest.raises(CfgError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        parse_cfg_text(text)


def test_conv_specs_of_yolov3_tiny():
    cfg, _ = need_coco()
    specs = conv_specs(read_cfg(cfg))
    assert [s.layer for s in specs] == [0, 2, 4, 6, 8, 10, 12, 13, 14, 15, 18, 21, 22]
    by_layer = {s.layer: s for s in specs}
    assert (by_layer[21].channels, by_layer[21].filters) == (384, 256)  # route -1, 8 = 128 + 256
    assert (by_layer[15].filters, by_layer[15].batch_normalize) == (255, False)


def test_one_class_cfg():
    cfg, _ = need_coco()
    coco = read_cfg(cfg)
    one = make_n_class_cfg(coco, 1, max_batches=1000)
    layers = one[1:]
    for i in yolo_layers(one):
        assert layers[i].options["classes"] == "1"
        assert layers[i - 1].options["filters"] == "18"
        # masks/anchors are kept from the source file, whatever they are
        assert layers[i].options["mask"] == coco[1 + i].options["mask"]
        assert layers[i].options["anchors"] == coco[1 + i].options["anchors"]
    net = one[0].options
    assert (net["batch"], net["subdivisions"], net["width"], net["height"]) == ("64", "16", "416", "416")
    assert (net["max_batches"], net["steps"]) == ("1000", "800,900")
    assert coco[1 + 15].options["filters"] == "255"  # the source is not modified
    inf = inference_cfg(one)
    assert (inf[0].options["batch"], inf[0].options["subdivisions"]) == ("1", "1")


def test_three_classes_filters():
    cfg, _ = need_coco()
    three = make_n_class_cfg(read_cfg(cfg), 3)
    assert [s.filters for s in conv_specs(three) if s.layer in (15, 22)] == [24, 24]
