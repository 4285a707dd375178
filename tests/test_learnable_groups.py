"""Learnable Joint Groups: temperature schedule, selection, NDDR initialisation, groups, loss, lift, plot."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from handpose import skeleton as skeletons
from handpose.codecs.uvz import encode_uvz
from handpose.errors import HandposeError
from handpose.losses import create_loss
from handpose.models import create_model, list_models
from handpose.models.group_plot import plot_grouping, plot_model_grouping
from handpose.models.layers import NDDRFusion, SoftArgmax2d
from handpose.models.learnable_groups import (
    GroupBranches,
    TemperatureSchedule,
    lift_to_camera,
    manual_groups,
    param_groups,
)
from handpose.training.schedule import temperature_at

TINY = {"features": 16, "stem_channels": 8, "depth": 1, "num_modules": 1, "branch_channels": 4}


def tiny(name: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **{**TINY, **kw})


def test_variants_registered():
    expected = {
        "learnable_groups_one_group",
        "learnable_groups_manual",
        "learnable_groups_manual_nofusion",
        "learnable_groups_k2",
        "learnable_groups_k3",
        "learnable_groups_k3_nofusion",
        "learnable_groups_k4",
        "learnable_groups_k5",
        "learnable_groups_k21",
    }
    assert expected <= set(list_models("learnable_groups_*", modality="rgb"))
    assert tiny("learnable_groups_k21").num_groups == 21
    assert tiny("learnable_groups_k3_nofusion").fusion is None
    assert tiny("learnable_groups_one_group").num_groups == 1


def test_temperature_schedule_steps_and_floor():
    sched = TemperatureSchedule()
    assert sched(0) == 5.0
    assert sched(999) == 5.0
    assert sched(1000) == pytest.approx(4.9)
    assert sched(10_500) == pytest.approx(4.0)
    assert sched(48_000) == pytest.approx(0.2)
    assert sched(49_000) == pytest.approx(0.1)
    assert sched(50_000) == pytest.approx(0.1)  # 5 - 5.0 = 0 -> clamped at the floor
    assert sched(10**7) == pytest.approx(0.1)
    assert [sched(s) for s in (0, 12_345, 60_000)] == [
        temperature_at(s, 5.0, 0.1, 1000, 0.1) for s in (0, 12_345, 60_000)
    ]
    values = [sched(s) for s in range(0, 60_000, 250)]
    assert all(b <= a for a, b in itertools.pairwise(values))
    assert min(values) > 0


def test_temperature_schedule_state_round_trip():
    sched = TemperatureSchedule(start=2.0, decay=0.5, every=10, floor=0.2)
    other = TemperatureSchedule()
    other.load_state_dict(sched.state_dict())
    assert other == sched
    assert other(25) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        TemperatureSchedule(floor=0.0)


def test_temperature_buffer_is_checkpointed():
    model = tiny("learnable_groups_k3")
    assert float(model.temperature) == 5.0
    model.set_temperature(0.7)
    state = model.state_dict()
    assert float(state["temperature"]) == pytest.approx(0.7)
    fresh = tiny("learnable_groups_k3")
    fresh.load_state_dict(state)
    assert float(fresh.temperature) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        model.set_temperature(0.0)


def test_hard_assignment_at_eval_is_deterministic_argmax():
    model = tiny("learnable_groups_k3")
    with torch.no_grad():
        model.selector_logits.copy_(torch.randn(21, 3, generator=torch.Generator().manual_seed(1)) * 3)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first["joints"], second["joints"])
    groups = model.assignment()
    assert torch.equal(groups, model.selector_logits.argmax(dim=1))
    picked = first["group_joints"][:, groups, torch.arange(21)]  # (B, J, 3): each joint from its own group
    torch.testing.assert_close(first["joints"], picked)


def test_stochastic_eval_and_training_selection():
    model = tiny("learnable_groups_k3", eval_selection="sample")
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a, b = model(x)["joints"], model(x)["joints"]
    assert not torch.equal(a, b)  # the reference's stochastic inference
    model.train()
    sample = model._selection()
    assert sample.shape == (21, 3)
    torch.testing.assert_close(sample.sum(dim=1), torch.ones(21))
    out = model(torch.randn(2, 3, 32, 32))
    out["joints"].sum().backward()
    assert model.selector_logits.grad is not None and model.selector_logits.grad.abs().sum() > 0


def test_low_temperature_samples_are_nearly_one_hot():
    model = tiny("learnable_groups_k4")
    model.train()
    model.set_temperature(0.05)
    torch.manual_seed(3)
    sample = model._selection()
    assert (sample.max(dim=1).values > 0.9).float().mean() > 0.8
    model.set_temperature(100.0)
    flat = model._selection()
    assert flat.max() < 0.6  # a hot temperature spreads every joint over the groups


def test_nddr_initial_weights():
    k, c = 3, 4
    fusion = NDDRFusion(k, c)
    eye = torch.eye(c)
    for g in range(k):
        for h in range(k):
            torch.testing.assert_close(fusion.block(g, h).detach(), eye * (0.9 if h == g else 0.05))
    assert torch.count_nonzero(fusion.conv.bias) == 0
    fusion.eval()  # fresh BN statistics: identity up to eps
    branches = [torch.rand(1, c, 3, 3) for _ in range(k)]
    out = fusion(torch.cat(branches, dim=1))
    scale = 1.0 / np.sqrt(1.0 + fusion.norm.eps)
    expected = (0.9 * branches[1] + 0.05 * (branches[0] + branches[2])) * scale
    torch.testing.assert_close(out[:, c : 2 * c], expected)


def test_nddr_weights_for_other_k():
    fusion = NDDRFusion(5, 2)
    w = fusion.block(0, 0).detach()
    assert w[0, 0].item() == pytest.approx(0.9) and w[0, 1].item() == 0.0
    assert fusion.block(0, 3).detach()[1, 1].item() == pytest.approx(0.1 / 4)
    with pytest.raises(ValueError):
        NDDRFusion(1, 2)


def test_group_branches_share_no_weights():
    k, c = 3, 4
    branches = GroupBranches(k, c)
    out = branches(torch.randn(2, c, 8, 8))
    assert out.shape == (2, k * c, 8, 8)
    out[:, c : 2 * c].square().sum().backward()  # group 1 only
    for module in branches.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.BatchNorm2d)):
            grad = module.weight.grad  # the group axis is dim 0 for convs, transposed convs and BN alike
            per_group = grad.shape[0] // k
            assert grad[per_group : 2 * per_group].abs().sum() > 0
            assert grad[:per_group].abs().sum() == 0 and grad[2 * per_group :].abs().sum() == 0


def test_manual_groups_follow_the_skeleton_fingers():
    canon = skeletons.get("canonical21")
    thumb, index, rest = manual_groups(canon)
    assert thumb == canon.fingers["thumb"] == (1, 2, 3, 4)
    assert index == canon.fingers["index"]
    assert 0 in rest and len(thumb) + len(index) + len(rest) == 21
    msra = skeletons.get("msra21")  # another order: the groups move with the joints
    thumb_m, index_m, _ = manual_groups(msra)
    assert {msra.joint_names[i] for i in thumb_m} == {canon.joint_names[i] for i in thumb}
    assert {msra.joint_names[i] for i in index_m} == {canon.joint_names[i] for i in index}
    model = tiny("learnable_groups_manual")
    torch.testing.assert_close(model.fixed_assignment[list(thumb), 0], torch.ones(4))
    assert model.selector_logits is None


def test_param_groups_split_selector_fusion_rest():
    model = tiny("learnable_groups_k3")
    groups = {g["name"]: g for g in param_groups(model)}
    assert groups["selector"]["lr"] == 1e-1 and groups["fusion"]["lr"] == 1e-2 and groups["rest"]["lr"] == 1e-4
    ids = [id(p) for g in groups.values() for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert [g["name"] for g in param_groups(tiny("learnable_groups_one_group"))] == ["rest"]
    torch.optim.Adam(param_groups(model))  # accepted as-is by an optimizer
    from handpose.training.module import parameter_groups  # the training loop's view of the same split

    loop = {g["name"]: g["lr"] for g in parameter_groups(model, 1e-4, {"selector": 0.1, "fusion": 0.01})}
    assert loop == {"selector": 0.1, "fusion": 0.01, "rest": 1e-4}


def test_soft_argmax_peaks_and_integration():
    layer = SoftArgmax2d(2, beta_init=50.0)
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 2, 5] = 1.0  # row 2, column 5
    hm[0, 1, 7, 0] = 1.0
    depth = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8).expand(1, 2, 8, 8)
    uv, prob, (z,) = layer(hm, depth)
    torch.testing.assert_close(uv[0, 0], torch.tensor([(2 * 5 + 1) / 8 - 1, (2 * 2 + 1) / 8 - 1]), atol=1e-3, rtol=0)
    torch.testing.assert_close(uv[0, 1], torch.tensor([1 / 8 - 1, 15 / 8 - 1]), atol=1e-3, rtol=0)
    torch.testing.assert_close(z[0], torch.tensor([21.0, 56.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(prob.sum(dim=(2, 3)), torch.ones(1, 2))


def test_loss_weights_depth_by_twenty():
    loss = create_loss("learnable_groups_l1", "canonical21", units="uvz")
    target = torch.zeros(2, 21, 3)
    assert loss({"joints": target.clone()}, {"joints": target})["loss"] == 0
    pred = target.clone()
    pred[..., 2] = 0.5
    out = loss({"joints": pred}, {"joints": target})
    assert out["z"].item() == pytest.approx(10.0) and out["uv"].item() == 0
    pred = target.clone()
    pred[..., 0] = 1.0 / 128  # one pixel of a 256 crop on u, none on v
    assert loss({"joints": pred}, {"joints": target})["uv"].item() == pytest.approx(1.0)


def test_lift_inverts_the_uvz_encoding(rng):
    skel = skeletons.get("canonical21")
    xyz = rng.normal(0, 30, (2, 21, 3)) + np.array([10.0, -20.0, 450.0])
    k_crop = np.array([[[300.0, 0, 64], [0, 310.0, 60], [0, 0, 1]]] * 2)
    uvz, root, scale = encode_uvz(xyz, k_crop, 128, skel)
    back = lift_to_camera(torch.tensor(uvz), torch.tensor(k_crop), 128, torch.tensor(root[:, 2]), torch.tensor(scale))
    np.testing.assert_allclose(back.numpy(), xyz, atol=1e-6)


def test_grouping_plot_writes_png(tmp_path):
    model = tiny("learnable_groups_k5")
    with torch.no_grad():
        model.selector_logits.copy_(torch.randn(21, 5))
    path = plot_model_grouping(model, tmp_path / "groups.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = plot_grouping(np.arange(14) % 3, "nyu14", tmp_path / "nyu.png", title="nyu")
    assert out.stat().st_size > 1000
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(Exception, match="expected"):
        plot_grouping(np.zeros((5, 2)), "canonical21", tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_image_side_must_fit_the_hourglass():
    model = tiny("learnable_groups_k2").eval()
    with pytest.raises(HandposeError, match="multiple of 16"):
        model(torch.zeros(1, 3, 40, 40))


def test_loss_skips_missing_labels():
    loss = create_loss("learnable_groups_l1", "canonical21", units="uvz")
    target = torch.zeros(1, 21, 3)
    target[0, 3, 2] = float("nan")  # no depth for one joint
    pred = torch.zeros(1, 21, 3, requires_grad=True)
    out = loss({"joints": pred}, {"joints": target})
    assert out["loss"].item() == 0.0
    out["loss"].backward()
    assert torch.isfinite(pred.grad).all()


def test_input_size_is_checked_at_construction():
    assert tiny("learnable_groups_k3", input_size=32).input_size == 32
    with pytest.raises(HandposeError, match="multiple of 64"):
        create_model("learnable_groups_k3", input_size=200)  # depth 4: stride 4 x 2**4


def test_sampled_selection_refuses_export():
    from handpose.onnx_graph import onnx_bytes

    model = tiny("learnable_groups_k2", eval_selection="sample").eval()
    with pytest.raises(HandposeError, match="cannot be exported"):
        onnx_bytes(model, input_size=32)


def test_selector_learns_which_group_predicts_each_joint():
    """With the paper's selector rate and an annealed temperature, each joint ends up on its best group."""
    torch.manual_seed(0)
    model = tiny("learnable_groups_k3").train()
    joints = torch.arange(21)
    best = (joints * 7) % 3  # any fixed assignment
    per_group = torch.ones(3, 21, 3)
    per_group[best, joints] = 0.0  # group best[j] predicts joint j exactly (the target is 0), the others miss by 1
    optimiser = torch.optim.Adam([model.selector_logits], lr=0.1)
    schedule = TemperatureSchedule(start=5.0, decay=0.1, every=3, floor=0.1)
    for step in range(150):
        model.set_temperature(schedule(step))
        loss = torch.einsum("jk,kjc->jc", model._selection(), per_group).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert torch.equal(model.assignment(), best)
    assert model.selection_probabilities()[joints, best].min() > 0.9
