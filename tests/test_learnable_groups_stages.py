"""Learnable Groups training as the paper runs it: the hourglass stage first, and the no-fusion K sweep."""

from __future__ import annotations

import pytest
import torch

from handpose.losses import create_loss
from handpose.models import create_model, list_models
from handpose.models.registry import aliases, default_loss
from handpose.training.config import load_config

SMALL_HOURGLASS = {"features": 16, "depth": 2, "num_modules": 1}
SMALL = {**SMALL_HOURGLASS, "stem_channels": 8, "branch_channels": 8}
CPU_CONFIG = "configs/synthetic/learnable_groups_k3_cpu.yaml"


def test_hourglass_stage_predicts_2d_under_the_same_names():
    torch.manual_seed(0)
    stage1 = create_model("learnable_groups_hourglass", **SMALL_HOURGLASS)
    stage2 = create_model("learnable_groups_k3", **SMALL)
    out = stage1.eval()(torch.randn(2, 3, 64, 64))
    assert out["joints"].shape == (2, 21, 3) and torch.all(out["joints"][..., 2] == 0)
    torch.testing.assert_close(out["joints"][..., :2], out["uv"])
    own, full = stage1.state_dict(), stage2.state_dict()
    shared = [k for k in own if k.startswith("backbone.")]
    assert shared and all(full[k].shape == own[k].shape for k in shared)
    assert set(own) - set(shared) == {"hourglass_readout.beta"} and "hourglass_readout.beta" not in full
    # Stage one trains on 2D joints only: L1 in 256-crop pixels, no depth term.
    assert default_loss("learnable_groups_hourglass") == ("learnable_groups_l1", {"units": "uvz", "z_weight": 0.0})
    name, params = default_loss("learnable_groups_hourglass")
    loss = create_loss(name, "canonical21", **params)
    target = out["joints"].detach().clone()
    target[..., 2] = 5.0  # any depth: not supervised
    target[0, 0, 0] += 1.0 / 128  # one pixel of a 256 crop
    terms = loss(out, {"joints": target})
    assert set(terms) == {"loss", "uv"} and terms["loss"].item() == pytest.approx(1.0 / 42, rel=1e-4)


def test_no_fusion_sweep_of_table_3():
    names = set(list_models("learnable_groups_k*_nofusion"))
    assert names == {f"learnable_groups_k{k}_nofusion" for k in (2, 3, 4, 5, 21)}
    for k in (2, 4, 5, 21):
        model = create_model(f"learnable_groups_k{k}_nofusion", **SMALL)
        assert model.fusion is None and model.num_groups == k and model.selector_logits.shape == (21, k)
    assert not {a for a in aliases() if a.endswith(("k2_nofusion", "k4_nofusion"))}  # new names, no old alias


def test_second_stage_starts_from_the_hourglass_checkpoint(tmp_path):
    from handpose.checkpoint_file import read_checkpoint
    from handpose.training.run import train

    common = [
        f"out_dir={tmp_path}",
        "model.input_size=64",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.stream.count=8",
        "data.stream.val_count=4",
        "trainer.max_steps=2",
        "trainer.max_epochs=1",
        "trainer.progress=none",
    ]
    hourglass = [
        "name=stage1",
        "model.name=learnable_groups_hourglass",
        f"model.kwargs={SMALL_HOURGLASS}",
        "optim.group_lr={}",
        "optim.temperature=null",
    ]
    first = train(load_config(CPU_CONFIG, common + hourglass))
    _, stage1_weights, _ = read_checkpoint(first["last_checkpoint"])
    second = load_config(CPU_CONFIG, [*common, "name=stage2", f"model.kwargs={SMALL}"])
    second.model.init_from = first["last_checkpoint"]
    summary = train(second)
    backbone = sum(1 for k in stage1_weights if k.startswith("backbone."))
    assert summary["initial_weights"] == [
        f"model.init_from: {backbone} tensors of learnable_groups_hourglass ({first['last_checkpoint']}) loaded, "
        f"1 of the checkpoint skipped, "
        f"{len(create_model('learnable_groups_k3', **SMALL).state_dict()) - backbone} of the model kept at their "
        "initial values"
    ]
