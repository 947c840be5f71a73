"""Detector backend running the model through PyTorch, with the layers of the training engine.

Why a third engine: on a CPU with AVX-512 bfloat16 (this project's recorder PCs among them),
oneDNN runs the tiny YOLOs in bfloat16 with channels-last tensors some 2.5x faster than OpenCV
DNN in float32 (yolov3-tiny at 416x416 on 2 cores: 24 ms against 61 ms), which is what lets one
machine run person regions for several cameras (benchmarks/capacity.py). Elsewhere it runs in
float32, and on a CUDA GPU in float16. The network is built from the bundle's cfg by
`gunwatch.training.pytorch.torch_yolo`, the same code that trains our models, so the two cannot drift.
Input preparation and box decoding are the other backends' own (detectors.base).

Needs `pip install torch` (install/bootstrap.sh --with-torch); without it the backend says so and
`auto` uses the others.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from ..domain import Detection
from ..errors import BackendUnavailable
from ..model import ModelBundle
from ..registry import register
from .base import DetectorSettings, postprocess, prepare_input

log = logging.getLogger(__name__)

Precision = Literal["auto", "float32", "bfloat16", "float16"]


def bf16_is_native(torch) -> bool:
    """Whether oneDNN has native bfloat16 kernels here (AVX-512 BF16 or AMX). Emulated bfloat16
    on older CPUs is slower than float32: about 12x for a training step on an AVX2-only EPYC."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@register("detector", "torch")
class TorchDetector:
    """YOLO through PyTorch: bfloat16 on CPUs that have it, float16 on CUDA, float32 otherwise."""

    name = "torch"

    def __init__(self, model: ModelBundle, settings: DetectorSettings = DetectorSettings(),
                 precision: Precision = "auto"):
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailable("the torch backend needs PyTorch: pip install torch "
                                     "(or install/bootstrap.sh --with-torch)") from exc
        from ..training.pytorch.torch_yolo import DarknetModel, decode_outputs

        self._torch, self._decode = torch, decode_outputs
        self.model = model
        self.confidence, self.nms = settings.resolve(model)
        try:
            net = DarknetModel.from_cfg(model.cfg)
            net.load_darknet_file(model.weights)
        except (ValueError, OSError) as exc:
            raise BackendUnavailable(f"torch cannot build {model.cfg}: {exc}") from exc
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if precision == "auto":
            precision = "float16" if self.device == "cuda" else ("bfloat16" if bf16_is_native(torch) else "float32")
        self.precision = precision
        self._autocast_dtype = None if precision == "float32" else getattr(torch, precision)
        self.net = net.eval().to(self.device, memory_format=torch.channels_last)
        self.spec = model.meta.input
        log.info("torch backend ready: model=%s device=%s precision=%s", model.name, self.device, precision)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        torch, decode = self._torch, self._decode
        chw, transform = prepare_input(frame, self.spec)
        images = torch.from_numpy(chw)[None].to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            with torch.autocast(self.device, dtype=self._autocast_dtype, enabled=self._autocast_dtype is not None):
                raw = self.net(images)
            rows = decode(self.net, raw, images.shape[3], images.shape[2])[0].cpu().numpy()
        # cx, cy, w, h (fractions of the input), objectness, per-class probability: the class
        # score is their product, as darknet and OpenCV report it.
        scores = rows[:, 5:] * rows[:, 4:5]
        keep = scores.max(axis=1) > self.confidence
        return postprocess(rows[keep, :4], scores[keep], transform, self.model.names, self.confidence, self.nms)

    def close(self) -> None:
        self.net = None
