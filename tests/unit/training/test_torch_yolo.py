"""The torch model against OpenCV's darknet importer: same layer semantics, same weights."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import need_torch

torch = need_torch()

from gunwatch.training.arch.darknet_cfg import inference_cfg, make_n_class_cfg, read_cfg, write_cfg  # noqa: E402
from gunwatch.training.pytorch.torch_yolo import DarknetModel, MaxPool, decode  # noqa: E402

from ._paths import need_coco, pistol_images  # noqa: E402


def _blob(size: int = 416) -> np.ndarray:
    img = cv2.imread(str(pistol_images("test", 1)[0]))
    return cv2.dnn.blobFromImage(img, 1 / 255.0, (size, size), swapRB=True, crop=False)


def _cv2_outputs(cfg, weights, blob, model):
    """OpenCV's raw output convs, then its decoded [yolo] rows, for the model's heads."""
    layers = [h.layer for h in model.heads]
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(blob)
    return net.forward([f"conv_{i - 1}" for i in layers] + [f"yolo_{i}" for i in layers])


def _rows(model, raw):
    """Decoded rows in OpenCV's order (cell row, cell column, anchor)."""
    out = []
    for r, head in zip(raw, model.heads):
        d = decode(r, head, model.width, model.height)[0]
        out.append(d.permute(1, 2, 0, 3).reshape(-1, d.shape[-1]).numpy())
    return out


def _compare(model, cv_outs, raw):
    for ref, mine in zip(cv_outs[:2], raw):
        assert ref.shape == tuple(mine.shape)
        assert np.abs(ref - mine.numpy()).max() < 1e-3
    for ref, rows in zip(cv_outs[2:], _rows(model, raw)):
        assert ref.shape == rows.shape
        assert np.abs(ref[:, :5] - rows[:, :5]).max() < 1e-3  # x, y, w, h, objectness
        # OpenCV reports objectness * class probability and zeroes those below its threshold
        scores = rows[:, 4:5] * rows[:, 5:]
        shown = ref[:, 5:] != 0
        assert np.abs(ref[:, 5:][shown] - scores[shown]).max(initial=0) < 1e-3
        assert scores[~shown].max(initial=0) < 0.25


def test_coco_model_matches_opencv_dnn():
    cfg, weights = need_coco()
    model = DarknetModel.from_cfg(cfg)
    assert model.load_darknet_file(weights) == [0, 2, 4, 6, 8, 10, 12, 13, 14, 15, 18, 21, 22]
    model.eval()
    blob = _blob()
    with torch.no_grad():
        raw = model(torch.from_numpy(blob))
    assert [tuple(r.shape) for r in raw] == [(1, 255, 13, 13), (1, 255, 26, 26)]
    _compare(model, _cv2_outputs(cfg, weights, blob, model), raw)


def test_coco_yolov4_tiny_matches_opencv_dnn():
    """yolov4-tiny adds channel-slicing routes (groups=2 group_id=1) and scale_x_y=1.05."""
    cfg, weights = need_coco("yolov4-tiny")
    model = DarknetModel.from_cfg(cfg)
    assert len(model.load_darknet_file(weights)) == 21
    assert model.route_slices and {h.scale_x_y for h in model.heads} == {1.05}
    model.eval()
    blob = _blob()
    with torch.no_grad():
        raw = model(torch.from_numpy(blob))
    assert [tuple(r.shape) for r in raw] == [(1, 255, 13, 13), (1, 255, 26, 26)]
    _compare(model, _cv2_outputs(cfg, weights, blob, model), raw)


def test_one_class_export_loads_in_opencv(tmp_path):
    cfg, weights = need_coco()
    sections = make_n_class_cfg(read_cfg(cfg), 1)
    model = DarknetModel(sections)
    model.init_output_convs()
    loaded = model.load_darknet_file(weights, source_cfg=cfg)
    assert 15 not in loaded and 22 not in loaded and len(loaded) == 11  # 255 vs 18 filters
    with torch.no_grad():  # make the new output convs non-trivial
        for layer in (15, 22):
            model.layers[layer].conv.weight.normal_(0, 0.05)
            model.layers[layer].conv.bias.normal_(0, 0.5)
    model.eval()
    write_cfg(inference_cfg(sections), tmp_path / "one.cfg")
    model.save_darknet_file(tmp_path / "one.weights", seen=640)
    blob = _blob()
    with torch.no_grad():
        raw = model(torch.from_numpy(blob))
    assert raw[0].shape[1] == 18
    _compare(model, _cv2_outputs(tmp_path / "one.cfg", tmp_path / "one.weights", blob, model), raw)
    again = DarknetModel(sections)
    assert len(again.load_darknet_file(tmp_path / "one.weights")) == 13
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_maxpool_size2_stride1_keeps_the_size():
    from gunwatch.training.arch.darknet_cfg import Section
    pool = MaxPool(Section("maxpool", {"size": "2", "stride": "1"}))
    x = torch.arange(9.0).view(1, 1, 3, 3) - 100  # all negative: padding must not win
    y = pool(x)
    assert y.shape == x.shape
    assert y[0, 0, 2, 2] == x[0, 0, 2, 2] and y[0, 0, 0, 0] == x[0, 0, 1, 1]
    pool2 = MaxPool(Section("maxpool", {"size": "2", "stride": "2"}))
    assert pool2(torch.zeros(1, 1, 13, 13)).shape[-1] == 7  # darknet: (13 + 1 - 2) / 2 + 1


def test_decode_formula():
    cfg, _ = need_coco()
    model = DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))
    head = model.heads[1]  # the 26x26 head
    raw = torch.zeros(1, 18, 26, 26)
    raw.view(3, 6, 26, 26)[2, :, 5, 7] = torch.tensor([1.0, -2.0, 0.5, -0.25, 3.0, -1.0])
    d = decode(raw, head, 416, 416)[0, 2, 5, 7]
    aw, ah = head.masked_anchors[2]

    def sig(v: float) -> float:
        return 1 / (1 + np.exp(-v))

    expected = [(sig(1.0) + 7) / 26, (sig(-2.0) + 5) / 26, np.exp(0.5) * aw / 416,
                np.exp(-0.25) * ah / 416, sig(3.0), sig(-1.0)]
    assert np.allclose(d.numpy(), expected, atol=1e-6)


def test_freeze_point_and_frozen_batchnorm():
    cfg, _ = need_coco()
    model = DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))
    assert model.default_freeze_point() == 13
    model.freeze(13)
    model.train()
    assert not model.layers[12].training and model.layers[13].training
    assert not any(p.requires_grad for p in model.layers[12].parameters())
    assert all(p.requires_grad for p in model.layers[13].parameters())
    model.freeze(0)
    assert model.layers[0].training and model.layers[0].conv.weight.requires_grad
