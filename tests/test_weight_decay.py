"""Weight decay applies to convolution and linear weights only, never to norms, biases or free parameters."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from handpose.models import create_model
from handpose.training.module import parameter_groups
from handpose.training.weight_decay import decayed_parameter_ids, split_weight_decay


def _names(model: nn.Module, params: list[nn.Parameter]) -> set[str]:
    ids = {id(p) for p in params}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_norms_and_biases_are_not_decayed():
    model = create_model("crossinfonet", skeleton="nyu14", input_size=32, width=0.25, channels=32, fc_dim=64)
    groups = split_weight_decay(model, parameter_groups(model, 1e-3, {}), 1e-5)
    assert [(g["name"], g["weight_decay"]) for g in groups] == [("all", 1e-5), ("all_no_decay", 0.0)]
    decayed, free = _names(model, groups[0]["params"]), _names(model, groups[1]["params"])
    assert decayed and free and not decayed & free
    assert decayed | free == {n for n, _ in model.named_parameters()}  # every parameter exactly once
    modules = dict(model.named_modules())
    for name in decayed:
        owner, _, leaf = name.rpartition(".")
        assert leaf == "weight" and isinstance(modules[owner], (nn.Conv2d, nn.Linear)), name
    for name in free:
        owner, _, leaf = name.rpartition(".")
        assert leaf == "bias" or isinstance(modules[owner], nn.modules.batchnorm._BatchNorm), name
    # The output FCs have a bias (no BatchNorm there): the bias is free, the weight decayed.
    assert any(n.endswith("bias") and "bn" not in n for n in free)


def test_learnable_groups_keep_their_rates_and_free_parameters_are_not_decayed():
    model = create_model("learnable_groups_k3", features=16, stem_channels=8, branch_channels=8, depth=2, num_modules=1)
    rates = {"selector": 0.1, "fusion": 0.01}
    groups = {g["name"]: g for g in split_weight_decay(model, parameter_groups(model, 1e-4, rates), 1e-4)}
    # The selector logits and the soft-argmax sharpness are not weights of a layer: never decayed.
    assert "selector" not in groups and groups["selector_no_decay"]["lr"] == 0.1
    assert "selector_logits" in _names(model, groups["selector_no_decay"]["params"])
    assert "readout.beta" in _names(model, groups["rest_no_decay"]["params"])
    # The fusion convolution is decayed at the fusion rate; its BatchNorm is not.
    assert groups["fusion"]["lr"] == groups["fusion_no_decay"]["lr"] == 0.01
    assert groups["fusion"]["weight_decay"] == 1e-4 and groups["fusion_no_decay"]["weight_decay"] == 0.0
    assert all(p.dim() == 4 for p in groups["fusion"]["params"])
    assert set(map(id, model.parameters())) == {id(p) for g in groups.values() for p in g["params"]}
    torch.optim.Adam(list(groups.values()))  # distinct names, accepted by an optimiser


def test_zero_decay_keeps_the_groups():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    groups = split_weight_decay(model, [{"params": list(model.parameters()), "name": "all", "lr": 1.0}], 0.0)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.0
    assert decayed_parameter_ids(model) == {id(model[0].weight)}


def test_the_training_module_builds_its_optimiser_with_the_split():
    from handpose.training.config import load_config
    from handpose.training.run import build_run

    cfg = load_config("configs/synthetic/crossinfonet_tiny.yaml", ["optim.weight_decay=1e-5"])
    module, _, _ = build_run(cfg)
    module._trainer = SimpleNamespace(estimated_stepping_batches=10, num_training_batches=5)
    opt = module.configure_optimizers()["optimizer"]
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["all"]["weight_decay"] == 1e-5 and by_name["all_no_decay"]["weight_decay"] == 0.0
    bn = [m.weight for m in module.model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(any(p is w for p in by_name["all_no_decay"]["params"]) for w in bn)
