"""BatchNorm folding for inference: each BatchNorm that follows a convolution or linear layer merged into it.

Export (:mod:`handpose.onnx_graph`), the models benchmark and int8 quantisation (which folds only the
scale, see ``keep_modules``) deploy folded weights.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor, nn


def _fold_pair(layer: nn.Module, bn: nn.Module, keep_bias_in_bn: bool) -> bool:
    if not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)) or not bn.track_running_stats:
        return False
    if not isinstance(layer, (nn.Conv2d, nn.Linear)) or layer.weight.shape[0] != bn.num_features:
        return False
    mean, var = bn.running_mean, bn.running_var
    assert mean is not None and var is not None  # track_running_stats keeps both
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(var + bn.eps)
        shape = (-1,) + (1,) * (layer.weight.ndim - 1)
        layer.weight.mul_(scale.reshape(shape))
        if keep_bias_in_bn:
            if layer.bias is not None:
                layer.bias.mul_(scale)
            bn.bias.copy_(bn.bias - mean * scale)
            bn.weight.fill_(1.0)
            mean.zero_()
            # 1 / sqrt(running_var + eps) == 1: the BatchNorm now only adds its bias.
            var.fill_(1.0 - bn.eps)
        else:
            bias = layer.bias if layer.bias is not None else torch.zeros_like(mean)
            layer.bias = nn.Parameter((bias - mean) * scale + bn.bias)
    return True


def fold_batchnorm(model: nn.Module, inplace: bool = False, keep_modules: bool = False) -> nn.Module:
    """Merge every BatchNorm that directly follows a convolution or linear layer into it (eval semantics).

    Recognised pairs: consecutive entries of an ``nn.Sequential`` and sibling attributes named
    ``convN``/``bnN``, ``conv``/``bn``, ``fc``/``bn``. Each folded BatchNorm becomes ``nn.Identity``.

    Args:
        model: Any module; it is not changed unless ``inplace``.
        inplace: Fold into ``model`` itself instead of a copy.
        keep_modules: Move only the scale into the layer's weights and leave each BatchNorm in place
            as a pure bias (unit weight, zero mean, unit variance): the architecture and state-dict
            keys stay those of ``model``, while the layer weights are the ones an exporter deploys.

    Returns:
        The folded module in eval mode; its outputs equal ``model.eval()``'s up to float rounding.
    """
    model = model if inplace else copy.deepcopy(model)
    model.eval()
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in itertools.pairwise(names):
                if _fold_pair(module._modules[a], module._modules[b], keep_modules) and not keep_modules:
                    module._modules[b] = nn.Identity()
        children = dict(module.named_children())
        for name, child in children.items():
            if not isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)) or not name.startswith("bn"):
                continue
            suffix = name[2:]
            partner = children.get(f"conv{suffix}") or children.get(f"fc{suffix}")
            if partner is not None and _fold_pair(partner, child, keep_modules) and not keep_modules:
                setattr(module, name, nn.Identity())
    return model


def fold_batchnorm_checked(model: nn.Module, example: Tensor, atol: float = 1e-4) -> nn.Module:
    """:func:`fold_batchnorm` on a copy, kept only if it reproduces ``model.eval()`` on ``example``.

    Attribute-name pairing cannot see the order of operations (a pre-activation block applies ``bn1``
    before ``conv1``); such a network gets an unfolded eval-mode copy instead of wrong outputs.
    """
    reference = copy.deepcopy(model).eval()
    folded = fold_batchnorm(model)
    with torch.no_grad():
        expected, got = reference(example), folded(example)
    pairs = expected.items() if isinstance(expected, dict) else [("out", expected)]
    for key, value in pairs:
        other = got[key] if isinstance(got, dict) else got
        scale = max(1.0, float(value.abs().max()))
        if not torch.allclose(other, value, atol=atol * scale, rtol=0.0):
            return reference
    return folded
