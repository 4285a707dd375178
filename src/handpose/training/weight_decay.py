"""Which parameters the optimiser's weight decay applies to: convolution and linear weights only.

CrossInfoNet's reference regularises the weights of its convolutions and fully connected layers (slim's
``weights_regularizer``) and nothing else. Decaying BatchNorm scales and shifts, biases, or free
parameters such as Learnable Groups' selector logits and the soft-argmax sharpness would pull them
towards zero, which means something else for each of them (a dead channel, a uniform selector, a
flat softmax) and is not regularisation of the mapping.
"""

from __future__ import annotations

from typing import Any

from torch import nn

DECAYED_MODULES = (nn.modules.conv._ConvNd, nn.Linear)


def decayed_parameter_ids(model: nn.Module) -> set[int]:
    """``id()`` of every parameter that weight decay applies to: the ``weight`` of convolutions and linear layers."""
    return {
        id(module.weight)
        for module in model.modules()
        if isinstance(module, DECAYED_MODULES) and isinstance(getattr(module, "weight", None), nn.Parameter)
    }


def split_weight_decay(model: nn.Module, groups: list[dict[str, Any]], weight_decay: float) -> list[dict[str, Any]]:
    """Split optimiser parameter groups into a decayed and an undecayed part.

    Args:
        model: The network whose parameters ``groups`` hold.
        groups: Parameter groups (``{"params", "name", "lr", ...}``), e.g. from
            :func:`handpose.training.module.parameter_groups`.
        weight_decay: Decay of convolution and linear weights.

    Returns:
        The groups with ``weight_decay`` set: each group's convolution and linear weights keep its
        name at ``weight_decay``, its other parameters go to ``"<name>_no_decay"`` at 0 (empty parts
        are left out). With ``weight_decay == 0`` the groups come back unchanged but for the key.
    """
    if weight_decay == 0:
        return [{**g, "weight_decay": 0.0} for g in groups]
    decayed = decayed_parameter_ids(model)
    out: list[dict[str, Any]] = []
    for group in groups:
        name = group.get("name", f"group{len(out)}")
        params = list(group["params"])
        with_decay = [p for p in params if id(p) in decayed]
        without = [p for p in params if id(p) not in decayed]
        if with_decay:
            out.append({**group, "name": name, "params": with_decay, "weight_decay": float(weight_decay)})
        if without:
            out.append({**group, "name": f"{name}_no_decay", "params": without, "weight_decay": 0.0})
    return out
