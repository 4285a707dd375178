"""CrossInfoNet's feature pyramid ("global_net" in the reference code, ``netlib/basemodel.py``).

Top-down from the deepest stage: every stage gets a lateral 1x1 convolution to ``channels`` with
BatchNorm and ReLU; a lower level adds to its lateral the level above, bilinearly upsampled to its
size and passed through a 1x1 convolution + BatchNorm without activation.

The reference resizes with TF1's ``resize_bilinear`` (corner-aligned sampling grid without half-pixel
centres); here ``F.interpolate(..., align_corners=False)`` (half-pixel centres) is used, the standard
choice in PyTorch and ONNX. Both are exact 2x upsamplings of the same map that differ by a quarter-pixel shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def conv_bn(in_channels: int, out_channels: int, kernel: int = 1, relu: bool = True) -> nn.Sequential:
    """Convolution without bias, BatchNorm, optional ReLU ('same' padding, stride 1)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, 1, kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class CrossInfoFPN(nn.Module):
    """Top-down pyramid over backbone stages, all levels ``channels`` wide.

    Args:
        in_channels: Channels of the backbone stages, shallowest first.
        channels: Width of every pyramid level.

    Returns (from ``forward``):
        One map per stage from ``finest`` on, shallowest (largest) first.
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 256):
        super().__init__()
        self.lateral = nn.ModuleList(conv_bn(c, channels, relu=True) for c in in_channels)
        # One merge conv per level below the top.
        self.merge = nn.ModuleList(conv_bn(channels, channels, relu=False) for _ in in_channels[:-1])

    def forward(self, features: Sequence[Tensor], finest: int = 0) -> list[Tensor]:
        """Pyramid levels ``finest`` .. last (shallowest first); levels below ``finest`` are not computed."""
        top = self.lateral[-1](features[-1])
        levels = [top]
        for i in range(len(features) - 2, finest - 1, -1):
            lateral = self.lateral[i](features[i])
            upsampled = F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            top = self.merge[i](upsampled) + lateral
            levels.append(top)
        return levels[::-1]
