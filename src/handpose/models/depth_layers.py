"""Building blocks shared by the depth networks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.models.backbones.resnet import SlimBottleneck


def head_bottleneck(in_channels: int, out_channels: int) -> SlimBottleneck:
    """CrossInfoNet's head block: a stride-1 bottleneck of ``out_channels`` with half-width middle
    (``bottleneck(depth=256, depth_bottleneck=128)`` in the reference); projects its shortcut when the
    input width differs."""
    return SlimBottleneck(in_channels, out_channels // 2, 1, expansion=2)


def output_conv(in_channels: int, out_channels: int, kernel: int = 3, batchnorm: bool = False) -> nn.Module:
    """Last convolution of a heatmap head: linear output, with bias (or, as the reference, BatchNorm)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, 1, kernel // 2, bias=not batchnorm)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if batchnorm else conv


def output_linear(in_features: int, out_features: int, batchnorm: bool = False) -> nn.Module:
    """Last fully connected layer of a regressor (see :func:`output_conv`)."""
    fc = nn.Linear(in_features, out_features, bias=not batchnorm)
    return nn.Sequential(fc, nn.BatchNorm1d(out_features)) if batchnorm else fc


def fc_bn_relu(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    """Fully connected layer with BatchNorm instead of bias, ReLU and dropout (the reference's slim FC)."""
    return nn.Sequential(
        nn.Linear(in_features, out_features, bias=False),
        nn.BatchNorm1d(out_features),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
    )


def check_input_size(input_size: int, multiple: int = 32) -> int:
    """The side of the square input, validated: the flattening heads size their first FC from it."""
    if int(input_size) != input_size or input_size < multiple or input_size % multiple:
        raise HandposeError(f"input_size must be a multiple of {multiple} (at least {multiple}), got {input_size}")
    return int(input_size)


def needs_partition(skel: skeletons.Skeleton) -> str | None:
    """Skeleton check for two-branch models: both the palm and the finger branch need joints."""
    if not skel.palm_indices or not skel.finger_indices:
        return (
            f"its palm/finger partition is {len(skel.palm_indices)}/{len(skel.finger_indices)} joints;"
            " both branches need at least one"
        )
    return None


def index_buffer(indices: tuple[int, ...]) -> Tensor:
    return torch.tensor(indices, dtype=torch.long)
