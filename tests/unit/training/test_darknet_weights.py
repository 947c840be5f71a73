"""darknet weights files: header, per-layer arrays, exact round trip."""
from __future__ import annotations

import numpy as np
import pytest

from gunwatch.training.arch.darknet_cfg import conv_specs, make_n_class_cfg, read_cfg
from gunwatch.darknet.weights import WeightsError, WeightsHeader, expected_size
from gunwatch.training.arch.darknet_weights import ConvWeights, DarknetWeights, read_weights, write_weights

from ._paths import need_coco


def test_coco_weights_read_and_rewrite_byte_identical(tmp_path):
    cfg, weights = need_coco()
    specs = conv_specs(read_cfg(cfg))
    w = read_weights(weights, specs)
    assert (w.header.major, w.header.minor, w.header.revision, w.header.seen) == (0, 2, 0, 32013312)
    assert w.layers[0].weights.shape == (16, 3, 3, 3)
    assert w.layers[15].scales is None and w.layers[15].biases.shape == (255,)
    assert expected_size(specs, w.header) == weights.stat().st_size
    out = tmp_path / "copy.weights"
    write_weights(out, w, specs)
    assert out.read_bytes() == weights.read_bytes()


def test_wrong_cfg_is_an_error_not_a_silent_misread():
    cfg, weights = need_coco()
    one = conv_specs(make_n_class_cfg(read_cfg(cfg), 1))
    with pytest.raises(WeightsError, match="bytes"):
        read_weights(weights, one)


def test_random_one_class_round_trip(tmp_path):
    cfg, _ = need_coco()
    specs = conv_specs(make_n_class_cfg(read_cfg(cfg), 1))
    rng = np.random.default_rng(0)
    w = DarknetWeights(WeightsHeader(seen=123456789012))
    for s in specs:
        f = s.filters
        arr = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
        w.layers[s.layer] = ConvWeights(arr(f), arr(f, s.channels, s.size, s.size),
                                        *( (arr(f), arr(f), np.abs(arr(f))) if s.batch_normalize else ()))
    path = tmp_path / "one.weights"
    write_weights(path, w, specs)
    back = read_weights(path, specs)
    assert back.header == w.header
    for layer, lw in w.layers.items():
        b = back.layers[layer]
        for name in ("biases", "weights", "scales", "rolling_mean", "rolling_var"):
            x, y = getattr(lw, name), getattr(b, name)
            assert (x is None and y is None) or np.array_equal(x, y)


def test_old_format_32bit_seen(tmp_path):
    cfg, _ = need_coco()
    specs = conv_specs(read_cfg(cfg))[:1]
    s = specs[0]
    lw = ConvWeights(np.ones(s.filters, np.float32), np.zeros((s.filters, 3, 3, 3), np.float32),
                     np.ones(s.filters, np.float32), np.zeros(s.filters, np.float32),
                     np.ones(s.filters, np.float32))
    path = tmp_path / "old.weights"
    write_weights(path, DarknetWeights(WeightsHeader(0, 1, 0, 7), {0: lw}), specs)
    assert path.stat().st_size == 16 + 4 * (16 * 4 + 16 * 27)
    back = read_weights(path, specs)
    assert back.header.seen == 7 and np.array_equal(back.layers[0].scales, lw.scales)
