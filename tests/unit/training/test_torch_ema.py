"""The weight average: its arithmetic, batch-norm statistics, and its place in the trainer."""
from __future__ import annotations

import math

import pytest

from tests.conftest import need_torch

torch = need_torch()

from gunwatch.training.pytorch.torch_ema import WeightAverage  # noqa: E402


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))


def test_average_follows_the_weights_with_the_ramped_decay():
    net = _net()
    ema = WeightAverage(net, decay=0.9, ramp=2.0)
    start = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    ema.update(net)
    d = 0.9 * (1 - math.exp(-1 / 2.0))
    assert ema.current_decay() == pytest.approx(d)
    assert torch.allclose(ema.model[0].weight, d * start + (1 - d) * (start + 1.0))
    # the trained model is left alone, and the copy takes no gradients
    assert torch.allclose(net[0].weight, start + 1.0)
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_batchnorm_statistics_are_averaged_and_counters_copied():
    net = _net()
    ema = WeightAverage(net, decay=0.5, ramp=1e-9)  # d = 0.5 from the first step
    net.train()
    net(torch.full((4, 1, 3, 3), 10.0))
    ema.update(net)
    bn_live, bn_avg = net[1], ema.model[1]
    assert torch.allclose(bn_avg.running_mean, 0.5 * bn_live.running_mean)
    assert int(bn_avg.num_batches_tracked) == int(bn_live.num_batches_tracked) == 1


def test_state_round_trip():
    net = _net()
    ema = WeightAverage(net, decay=0.99)
    with torch.no_grad():
        net[0].bias.add_(3.0)
    for _ in range(5):
        ema.update(net)
    other = WeightAverage(_net(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.steps == 5 and other.decay == 0.99
    assert torch.equal(other.model[0].bias, ema.model[0].bias)


def test_decay_out_of_range_is_refused():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_net(), decay=1.0)
