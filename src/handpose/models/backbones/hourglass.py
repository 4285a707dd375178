"""Stacked hourglass backbone (Newell et al., ECCV'16) in the form the Learnable Groups reference uses.

The reference (``moranli-aca/LearnableGroups-Hand:nets/Backbone.py``, itself taken from Ge et al. CVPR'19)
runs one stack of 256 features and recursion depth 4 on a 256x256 crop, giving 64x64 heatmaps. The
residual module is pre-activation (BN-ReLU-conv) with a 1x1 bottleneck, convolutions keep their bias,
and the hourglass upsamples with nearest-neighbour x2. Everything here is configurable so tests and
small-budget runs can shrink it.

Example:
    >>> net = StackedHourglass(num_joints=21, stacks=1, features=64, depth=2)
    >>> heatmaps, features = net(torch.zeros(1, 3, 64, 64))
    >>> heatmaps[-1].shape, features.shape
    (torch.Size([1, 21, 16, 16]), torch.Size([1, 64, 16, 16]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PreActResidual(nn.Module):
    """Pre-activation bottleneck residual: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1, plus a 1x1 skip when widths differ.

    Args:
        in_channels: Input width.
        out_channels: Output width; the bottleneck runs at half of it.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = max(out_channels // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The skip reads x before the in-place ReLU in body can touch it: BN produces a new tensor first.
        return self.body(x) + self.skip(x)


def _residuals(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(PreActResidual(channels, channels) for _ in range(count)))


class Hourglass(nn.Module):
    """One recursive hourglass: a skip branch at this resolution plus a max-pooled branch recursing ``depth - 1`` times.

    Args:
        depth: Number of 2x down/up levels; the input side must be divisible by ``2**depth``.
        features: Channel width kept throughout.
        num_modules: Residual modules per stage (the reference uses 2).
    """

    def __init__(self, depth: int, features: int, num_modules: int = 2) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"hourglass depth must be >= 1, got {depth}")
        self.skip = _residuals(features, num_modules)
        self.down = _residuals(features, num_modules)
        self.inner: nn.Module = (
            Hourglass(depth - 1, features, num_modules) if depth > 1 else _residuals(features, num_modules)
        )
        self.up = _residuals(features, num_modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.up(self.inner(self.down(F.max_pool2d(x, 2, stride=2))))
        return self.skip(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class StackedHourglass(nn.Module):
    """Stem + ``stacks`` hourglasses with intermediate heatmaps, at 1/4 of the input resolution.

    Args:
        num_joints: Heatmap channels.
        stacks: Hourglass stacks (the Learnable Groups reference uses 1).
        features: Channel width inside the hourglass (256 in the reference).
        depth: Recursion depth of each hourglass (4 in the reference).
        num_modules: Residual modules per hourglass stage.
        in_channels: Image channels.

    Returns from ``forward``:
        ``(heatmaps, features)``: a list with one ``(B, J, S/4, S/4)`` heatmap per stack, and the last
        stack's ``(B, features, S/4, S/4)`` feature map taken before its heatmap conv.
    """

    def __init__(
        self,
        num_joints: int,
        stacks: int = 1,
        features: int = 256,
        depth: int = 4,
        num_modules: int = 2,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if stacks < 1:
            raise ValueError(f"need at least one hourglass stack, got {stacks}")
        self.stacks = stacks
        self.depth = depth
        stem_width = max(features // 4, 8)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 7, stride=2, padding=3),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(inplace=True),
            PreActResidual(stem_width, features // 2),
            nn.MaxPool2d(2, stride=2),
            PreActResidual(features // 2, features // 2),
            PreActResidual(features // 2, features),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, features, num_modules) for _ in range(stacks))
        self.post = nn.ModuleList(_residuals(features, num_modules) for _ in range(stacks))
        self.lin = nn.ModuleList(
            nn.Sequential(nn.Conv2d(features, features, 1), nn.BatchNorm2d(features), nn.ReLU(inplace=True))
            for _ in range(stacks)
        )
        self.heatmap = nn.ModuleList(nn.Conv2d(features, num_joints, 1) for _ in range(stacks))
        # Stacks after the first see the previous features plus the remapped features and heatmaps.
        self.remap_features = nn.ModuleList(nn.Conv2d(features, features, 1) for _ in range(stacks - 1))
        self.remap_heatmap = nn.ModuleList(nn.Conv2d(num_joints, features, 1) for _ in range(stacks - 1))

    @property
    def stride(self) -> int:
        return 4

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        x = self.stem(image)
        heatmaps: list[torch.Tensor] = []
        feat = x
        for s in range(self.stacks):
            feat = self.lin[s](self.post[s](self.hourglasses[s](x)))
            hm = self.heatmap[s](feat)
            heatmaps.append(hm)
            if s < self.stacks - 1:
                x = x + self.remap_features[s](feat) + self.remap_heatmap[s](hm)
        return heatmaps, feat
