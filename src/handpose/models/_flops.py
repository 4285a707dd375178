"""Parameter and FLOP counts of a model for one input frame.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` over one eval-mode forward
pass: matrix products and convolutions at 2 FLOPs per multiply-add; element-wise work (BatchNorm,
ReLU, pooling, interpolation) is not counted — it is a small share for these networks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: int, in_channels: int, batch: int = 1) -> int:
    """FLOPs of one forward pass over a ``(batch, in_channels, input_size, input_size)`` input."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(batch, in_channels, input_size, input_size))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
