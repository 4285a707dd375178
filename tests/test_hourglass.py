"""Stacked hourglass backbone: shapes, stacks, residual module, recursion."""

from __future__ import annotations

import pytest
import torch

from handpose.models.backbones.hourglass import Hourglass, PreActResidual, StackedHourglass


@pytest.mark.parametrize("stacks", [1, 2])
def test_heatmaps_at_quarter_resolution(stacks):
    torch.manual_seed(0)
    net = StackedHourglass(num_joints=5, stacks=stacks, features=16, depth=2, num_modules=1)
    heatmaps, features = net(torch.randn(2, 3, 64, 64))
    assert len(heatmaps) == stacks
    assert all(h.shape == (2, 5, 16, 16) for h in heatmaps)
    assert features.shape == (2, 16, 16, 16)
    sum(h.sum() for h in heatmaps).backward()
    assert net.stem[0].weight.grad.abs().sum() > 0


def test_reference_configuration_sizes():
    net = StackedHourglass(num_joints=21)  # 1 stack, 256 features, depth 4
    assert net.stacks == 1 and net.depth == 4
    assert net.stem[-1].skip.out_channels == 256
    depth, level = 0, net.hourglasses[0]
    while isinstance(level, Hourglass):
        depth, level = depth + 1, level.inner
    assert depth == 4


def test_hourglass_keeps_shape_and_uses_nearest_upsampling():
    x = torch.randn(1, 8, 16, 16)
    assert Hourglass(depth=3, features=8, num_modules=1).eval()(x).shape == x.shape
    hg = Hourglass(depth=1, features=8, num_modules=1).eval()
    # With every conv zeroed each residual is the identity, leaving skip + nearest-upsampled max-pool.
    for m in hg.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.zeros_(m.weight)
            torch.nn.init.zeros_(m.bias)
    pooled = torch.nn.functional.max_pool2d(x, 2)
    expected = x + pooled.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(hg(x), expected)
    with pytest.raises(ValueError):
        Hourglass(depth=0, features=8)


def test_preactivation_residual_projects_skip_only_when_needed():
    same = PreActResidual(8, 8)
    wider = PreActResidual(8, 16)
    assert isinstance(same.skip, torch.nn.Identity)
    assert isinstance(wider.skip, torch.nn.Conv2d)
    assert isinstance(same.body[0], torch.nn.BatchNorm2d)  # pre-activation: BN comes first
    x = torch.randn(2, 8, 4, 4)
    assert wider(x).shape == (2, 16, 4, 4)
    assert same(x).shape == x.shape
