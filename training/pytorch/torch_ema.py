"""An exponential moving average of a model's weights, kept beside the trained model.

Short CPU runs end with checkpoints whose valid mAP swings by several points from one
evaluation to the next (stage 7: 0.691 to 0.759 within 130 iterations), so choosing "the best
checkpoint" mostly chooses noise. Averaging the weights over the last few hundred optimiser steps
smooths that out at no training cost; YOLOv5 and later evaluate and ship the averaged weights
for the same reason.
"""
from __future__ import annotations

import copy
import math

import torch


class WeightAverage:
    """``average = d * average + (1 - d) * weights`` after every optimiser step.

    d ramps up as ``decay * (1 - exp(-steps / ramp))`` so that, when training starts from
    weights with freshly initialised layers, the average does not hold on to them for long.
    Batch-norm running statistics are averaged the same way: they belong to the weights.
    """

    def __init__(self, model: torch.nn.Module, decay: float, ramp: float = 100.0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.ramp, self.steps = decay, ramp, 0

    def current_decay(self) -> float:
        return self.decay * (1.0 - math.exp(-self.steps / self.ramp))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        d = self.current_decay()
        live = model.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.dtype.is_floating_point:
                avg.mul_(d).add_(live[name], alpha=1.0 - d)
            else:  # counters such as num_batches_tracked
                avg.copy_(live[name])

    def state_dict(self) -> dict:
        return {"steps": self.steps, "decay": self.decay, "ramp": self.ramp,
                "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.decay, self.ramp = state["steps"], state["decay"], state["ramp"]
        self.model.load_state_dict(state["weights"])
