"""Every registered model, depth and RGB, through one parametrised test.

For each (model, skeleton): forward and backward on CPU at batch 2, output shapes, eval-mode
determinism. On one skeleton per model (rotating through the three depth skeletons) also: the
registered loss falls below 70 % of its first value when overfitting 8 samples for 30 steps, and the ONNX export matches PyTorch
within 1e-4 through ONNX Runtime; the remaining combinations of those heavy checks are marked slow.
The synthetic batch is built from the batch contract (:mod:`handpose.batch`), so new models and
new batch keys are covered without editing this file.
"""

from __future__ import annotations

import subprocess
import sys
import typing

import numpy as np
import pytest
import torch

from handpose import batch as batch_contract
from handpose import skeleton as skeletons
from handpose.codecs.heatmap import with_heatmap_targets
from handpose.errors import HandposeError
from handpose.losses import check_loss, create_loss
from handpose.models import create_model, get_spec, list_models
from handpose.models.registry import aliases, default_loss
from handpose.onnx_graph import onnx_bytes, ort_session

DEPTH_SKELETONS = ("icvl16", "nyu14", "msra21")
RGB_SKELETONS = ("canonical21",)

# Smaller test inputs where the architecture allows (family -> side); others use the spec's size.
TEST_INPUT = {"crossinfonet": 32, "fingerposenet": 32, "holistic": 32, "learnable_groups": 32, "resunet": 64}
# Builder overrides that shrink a family for the test: the same architecture with fewer channels and levels.
# CrossInfoNet keeps the reference widths; the ResNet-50 families run at quarter width (same layers).
TEST_OVERRIDES: dict[str, dict] = {
    "fingerposenet": {"width": 0.25, "channels": 32, "reduced": 16, "fc_dim": 64, "fusion_dim": 64},
    "holistic": {"width": 0.25, "hidden": 64},
    "learnable_groups": {"features": 16, "stem_channels": 8, "depth": 1, "num_modules": 1, "branch_channels": 8},
    "resunet": {
        "input_size": 64,
        "encoder": "resnet18",
        "width": 0.25,
        "decoder_channels": (32, 16, 16, 8),
        "branch_channels": (16, 16, 32, 32),
        "fc_channels": 256,
    },
}
# Entries whose builder takes only part of their family's arguments.
TEST_OVERRIDES_BY_NAME: dict[str, dict] = {
    "learnable_groups_hourglass": {"features": 16, "depth": 1, "num_modules": 1},  # the hourglass alone
}

# Per batch key: shape after the batch axis ("J" = joints, "C"/"S" = image channels/side) and kind.
BATCH_KEYS: dict[str, tuple[tuple[str | int, ...], str]] = {
    "image": (("C", "S", "S"), "image"),
    "joints": (("J", 3), "target"),
    "joints_crop": (("J", 3), "target"),
    "joints_rel": (("J", 3), "target"),
    "visible": (("J",), "bool"),
    "center_xyz": ((3,), "centre"),
    "root_xyz": ((3,), "centre"),
    "cube": ((3,), "cube"),
    "scale": ((), "scale"),
    "rotation_deg": ((), "zero"),
    "camera": ((4,), "camera"),
    "K_crop": ((3, 3), "K"),
    "joints_xyz": (("J", 3), "xyz"),
}


def _cases() -> list:
    cases = []
    for i, name in enumerate(list_models()):
        spec = get_spec(name)
        skels = DEPTH_SKELETONS if spec.modality == "depth" else RGB_SKELETONS
        primary = skels[i % len(skels)]
        for skel in skels:
            if skel == primary:
                cases.append(pytest.param(name, skel, True, id=f"{name}-{skel}-full"))
            else:
                cases.append(pytest.param(name, skel, False, id=f"{name}-{skel}"))
                cases.append(pytest.param(name, skel, True, id=f"{name}-{skel}-full", marks=pytest.mark.slow))
    return cases


def synthetic_batch(modality: str, output_space: str, skel: skeletons.Skeleton, n: int, channels: int, size: int):
    """A batch holding every key of the modality's batch contract, with plausible random values."""
    contract = batch_contract.DepthBatch if modality == "depth" else batch_contract.RGBBatch
    g = torch.Generator().manual_seed(0)
    J = skel.num_joints
    uv = torch.rand(n, J, 2, generator=g) * 1.6 - 0.8
    target = torch.cat([uv, torch.rand(n, J, 1, generator=g) * 1.6 - 0.8], dim=-1)
    out: dict[str, torch.Tensor] = {}
    for key in typing.get_type_hints(contract):
        assert key in BATCH_KEYS, f"batch key {key!r} is new: teach BATCH_KEYS its shape"
        shape_spec, kind = BATCH_KEYS[key]
        shape = (n, *({"J": J, "C": channels, "S": size}.get(d, d) for d in shape_spec))
        if kind == "image":
            value = torch.rand(shape, generator=g) * 2 - 1
        elif kind == "target":
            value = target.clone()
        elif kind == "bool":
            value = torch.ones(shape, dtype=torch.bool)
        elif kind == "centre":
            value = torch.tensor([0.0, 0.0, 400.0]).expand(shape).clone()
        elif kind == "cube":
            value = torch.full(shape, 250.0)
        elif kind == "scale":
            value = torch.full(shape, 30.0)
        elif kind == "zero":
            value = torch.zeros(shape)
        elif kind == "camera":
            value = torch.tensor([241.42, 241.42, 160.0, 120.0]).expand(shape).clone()
        elif kind == "K":
            value = torch.tensor([[200.0, 0, size / 2], [0, 200.0, size / 2], [0, 0, 1]]).expand(shape).clone()
        else:  # xyz in mm
            value = target * 125.0 + torch.tensor([0.0, 0.0, 400.0])
        out[key] = value
    return out


def _outputs_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), f"output {key} differs between two eval passes"


def _loss(loss_fn, outputs, batch):
    """The loss as the training step calls it: heatmap targets encoded by the codec first."""
    return loss_fn(outputs, with_heatmap_targets(batch, outputs, getattr(loss_fn, "heatmap_targets", None)))


@pytest.mark.parametrize(("name", "skel_name", "full"), _cases())
def test_model(name: str, skel_name: str, full: bool, tmp_path):
    torch.manual_seed(0)
    spec = get_spec(name)
    skel = skeletons.get(skel_name)
    size = TEST_INPUT.get(spec.family, spec.input_size)
    overrides = {"input_size": size} if spec.family in ("crossinfonet", "fingerposenet") else {}
    overrides.update(TEST_OVERRIDES_BY_NAME.get(name, TEST_OVERRIDES.get(spec.family, {})))
    model = create_model(name, skeleton=skel, **overrides)
    assert model.spec is spec and model.skeleton is skel
    loss_fn = create_loss(spec.loss, skel, **spec.loss_params)
    J, C = skel.num_joints, spec.in_channels

    # Forward and backward at batch 2, shapes.
    model.train()
    batch = synthetic_batch(spec.modality, spec.output_space, skel, 2, C, size)
    out = model(batch["image"])
    assert out["joints"].shape == (2, J, 3)
    assert all(v.shape[0] == 2 and torch.isfinite(v).all() for v in out.values())
    losses = _loss(loss_fn, out, batch)
    assert losses["loss"].ndim == 0 and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in grads) > 0.9 * len(grads)

    # Eval-mode determinism.
    model.eval()
    with torch.no_grad():
        _outputs_close(model(batch["image"]), model(batch["image"]))
    if not full:
        return

    # Overfit 8 samples for 30 steps with the registered loss. A pretrained-style backbone (a module
    # called ``backbone``) stays frozen here to keep the test fast; its gradients were checked above.
    model.train()
    data = synthetic_batch(spec.modality, spec.output_space, skel, 8, C, size)
    trainable = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    if 10 * sum(p.numel() for p in trainable) < sum(p.numel() for p in model.parameters()):
        trainable = []  # a network that is nearly all backbone (Learnable Groups' hourglass stage) trains it
    optimiser = torch.optim.Adam(trainable or list(model.parameters()), lr=1e-3)
    history = []
    for _ in range(30):
        optimiser.zero_grad()
        value = _loss(loss_fn, model(data["image"]), data)["loss"]
        value.backward()
        optimiser.step()
        history.append(value.item())
    assert np.isfinite(history).all()
    assert min(history[-5:]) < 0.7 * history[0], f"loss did not fall: {history[0]:.4g} -> {history[-1]:.4g}"

    # ONNX export (BatchNorm folded) vs eager PyTorch in eval mode, at a batch size other than the trace's.
    model.eval()
    image = data["image"][:3]
    with torch.no_grad():
        reference = model(image)
    session = ort_session(onnx_bytes(model, input_size=size))
    got = session.run(None, {"image": image.numpy()})
    assert [o.name for o in session.get_outputs()] == list(reference)
    for key, value in zip(reference, got):
        np.testing.assert_allclose(value, reference[key].numpy(), atol=1e-4, rtol=1e-4, err_msg=key)


def test_registry_lists_the_depth_models():
    depth = set(list_models(modality="depth"))
    expected = {"crossinfonet", "crossinfonet_cross", "crossinfonet_base_hm", "crossinfonet_base"}
    expected |= {"fingerposenet", "fingerposenet_no_sharing", "fingerposenet_no_fusion", "holistic_resnet50"}
    assert expected <= depth


def test_unknown_model_and_unservable_skeleton_are_one_line_errors():
    with pytest.raises(HandposeError, match=r"available: .*crossinfonet"):
        create_model("crossinfonet_v9", skeleton="nyu14")
    # Dexter+Object labels only fingertips: no finger branch is left for CrossInfoNet.
    with pytest.raises(HandposeError, match="cannot serve skeleton 'dexter5'"):
        create_model("crossinfonet", skeleton="dexter5")
    with pytest.raises(HandposeError, match="input_size"):
        create_model("crossinfonet", skeleton="nyu14", input_size=90)


def test_crossinfonet_reference_structure():
    model = create_model("crossinfonet", skeleton="nyu14").eval()
    out = model(torch.zeros(1, 1, 96, 96))
    skel = skeletons.get("nyu14")
    assert out["joints_palm"].shape == (1, len(skel.palm_indices), 3)
    assert out["joints_finger"].shape == (1, len(skel.finger_indices), 3)
    assert out["heatmaps"].shape == (1, 14, 24, 24) and out["heatmaps_palm"].shape == (1, 9, 24, 24)
    # Flattened 6x6x256 branch features into FC 1024; the fused FC sees 2 x 1024.
    assert model.palm_regressor.fc1[0].in_features == 6 * 6 * 256 == 9216
    assert model.hand_out.in_features == 2048
    assert model.palm_regressor.fc1[3].p == pytest.approx(0.4)
    assert model.palm_regressor.block.conv1.in_channels == 512  # concat(P0, T - F0)
    base = create_model("crossinfonet_base", skeleton="nyu14")
    assert base.palm_regressor.block.conv1.in_channels == 256 and not hasattr(base, "heatmap_head")


def test_crossinfonet_cross_connection_is_t_minus_other_branch():
    model = create_model("crossinfonet", skeleton="msra21").eval()
    seen = {}
    model.palm_regressor.block.register_forward_pre_hook(lambda m, a: seen.__setitem__("palm", a[0]))
    model.finger_block.register_forward_hook(lambda m, a, o: seen.__setitem__("f0", o))
    model.fpn.register_forward_hook(lambda m, a, o: seen.__setitem__("t", o[1]))
    model.palm_block.register_forward_hook(lambda m, a, o: seen.__setitem__("p0", o))
    with torch.no_grad():
        model(torch.randn(1, 1, 96, 96))
    torch.testing.assert_close(seen["palm"], torch.cat([seen["p0"], seen["t"] - seen["f0"]], dim=1))


def test_fingerposenet_handles_shared_joints_explicitly():
    skel = skeletons.get("icvl16")
    model = create_model("fingerposenet_no_fusion", skeleton=skel, input_size=32).eval()
    weights = model.combine_weights()
    for j in range(skel.num_joints):
        owners = int(model.membership[j].sum())
        assert owners == (2 if j in skel.shared_joints else 1)
        assert torch.allclose(weights[j][model.membership[j] > 0], torch.full((owners,), 1.0 / owners))
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 32))
    base = skel.fingers["index"][0]
    finger_est = out["joints_index"][:, 0]
    palm_est = out["joints_palm"][:, skel.subtask_groups["palm"].index(base)]
    torch.testing.assert_close(out["joints"][:, base], (finger_est + palm_est) / 2)


def test_residual_sharing_reduces_to_crossinfonet_for_two_tasks():
    from handpose.models.fingerposenet import ResidualSharing

    share = ResidualSharing(2)
    t, p0, f0 = torch.randn(3, 1, 4, 5, 5).unbind(0)
    to_palm, to_finger = share(t, [p0, f0])
    torch.testing.assert_close(to_palm, t - f0)
    torch.testing.assert_close(to_finger, t - p0)


def test_crossinfonet_loss_uses_reference_weights():
    skel = skeletons.get("nyu14")
    loss_fn = create_loss("crossinfonet", skel)
    batch = synthetic_batch("depth", "cube", skel, 2, 1, 96)
    zeros = {
        "joints": torch.zeros(2, 14, 3),
        "joints_palm": torch.zeros(2, 9, 3),
        "joints_finger": torch.zeros(2, 5, 3),
        "heatmaps": torch.zeros(2, 14, 24, 24),
        "heatmaps_palm": torch.zeros(2, 9, 24, 24),
        "heatmaps_finger": torch.zeros(2, 5, 24, 24),
    }
    with pytest.raises(HandposeError, match="no 24x24 heatmap targets"):
        loss_fn(zeros, batch)  # the loss renders no targets itself
    batch = with_heatmap_targets(batch, zeros, loss_fn.heatmap_targets)
    terms = loss_fn(zeros, batch)
    target = batch["joints"]
    l2 = 0.5 * target.pow(2).sum() / 2
    torch.testing.assert_close(terms["joints"], 0.5 * l2)
    coords = 0.5 * (l2 + 0.5 * target[:, list(skel.palm_indices)].pow(2).sum() / 2)
    coords = coords + 0.5 * 0.5 * target[:, list(skel.finger_indices)].pow(2).sum() / 2
    heat = terms["heatmaps"] + terms["heatmaps_palm"] + terms["heatmaps_finger"]
    assert heat > 0
    torch.testing.assert_close(terms["loss"], coords + heat)
    # Perfect predictions give zero loss; the coordinate-only loss ignores heatmaps.
    from handpose.codecs.heatmap import crossinfonet_heatmaps

    maps = crossinfonet_heatmaps(batch["joints_crop"][..., :2], 24)
    perfect = {
        "joints": target,
        "joints_palm": target[:, list(skel.palm_indices)],
        "joints_finger": target[:, list(skel.finger_indices)],
        "heatmaps": maps,
        "heatmaps_palm": maps[:, list(skel.palm_indices)],
        "heatmaps_finger": maps[:, list(skel.finger_indices)],
    }
    assert loss_fn(perfect, batch)["loss"].item() == pytest.approx(0.0, abs=1e-9)
    assert "heatmaps" not in create_loss("crossinfonet", skel, heatmap_weight=0.0)(zeros, batch)
    # The old loss name is an alias of exactly that.
    assert "heatmaps" not in create_loss("crossinfonet_coords", skel)(zeros, batch)


def test_crossinfonet_distance_loss_sums_joint_distances_of_labelled_joints():
    skel = skeletons.get("nyu14")
    loss_fn = create_loss("crossinfonet", skel, heatmap_weight=0.0, coordinates="distance")
    target = torch.zeros(2, 14, 3)
    pred = target.clone()
    pred[0, 3] = torch.tensor([0.3, 0.4, 0.0])  # 0.5 away
    pred[1, 5] = torch.tensor([0.0, 0.0, 2.0])  # 2 away, but unlabelled below
    target[1, 5] = float("nan")
    outputs = {
        "joints": pred,
        "joints_palm": pred[:, list(skel.palm_indices)],
        "joints_finger": pred[:, list(skel.finger_indices)],
    }
    terms = loss_fn(outputs, {"joints": target})
    # Per term: sum of distances / batch of 2; the total halves the sum of terms like the L2 form.
    assert terms["joints"].item() == pytest.approx(0.5 * 0.5 / 2, abs=1e-4)
    part = 0.5 / 2
    assert terms["loss"].item() == pytest.approx(0.5 * (part + part), abs=1e-4)  # joint 3 is in one branch
    pred.requires_grad_(True)
    outputs = {
        "joints": pred,
        "joints_palm": pred[:, list(skel.palm_indices)],
        "joints_finger": pred[:, list(skel.finger_indices)],
    }
    loss_fn(outputs, {"joints": target})["loss"].backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1, 5].abs().sum() == 0
    with pytest.raises(HandposeError, match="coordinates must be one of"):
        create_loss("crossinfonet", skel, coordinates="l3")


DEPTH_LOSS_MODELS = {
    "crossinfonet": "crossinfonet",
    "fingerposenet": "fingerposenet",
    "depth_joints_l2": "holistic_resnet18",
}


@pytest.mark.parametrize("loss_name", sorted(DEPTH_LOSS_MODELS))
def test_depth_losses_supervise_occluded_joints_and_skip_unlabelled_ones(loss_name):
    skel = skeletons.get("nyu14")
    loss_fn = create_loss(loss_name, skel)
    batch = synthetic_batch("depth", "cube", skel, 2, 1, 32)
    outputs = create_model(DEPTH_LOSS_MODELS[loss_name], skeleton=skel, input_size=32)(batch["image"])
    # Every coordinate output exact except the final joint 3, off by 0.1 on each axis.
    exact = {k: v.detach() for k, v in outputs.items()}
    for key in exact:
        group = key.removeprefix("joints_")
        if key.startswith("joints_") and group in {"palm", "finger", *skel.subtask_groups}:
            exact[key] = batch["joints"][:, _group_index(skel, group, loss_name)]
    exact["joints"] = batch["joints"].clone()
    exact["joints"][:, 3] += 0.1
    # Half the sum of squares over the batch / B (CrossInfoNet reports its terms halved again).
    expected = 0.5 * (2 * 3 * 0.01) / 2 * (0.5 if loss_name == "crossinfonet" else 1.0)
    # Occluded joints are still supervised: their 3D positions are labels like any other.
    hidden = dict(batch, visible=torch.zeros_like(batch["visible"]))
    assert _loss(loss_fn, exact, hidden)["joints"].item() == pytest.approx(expected, rel=1e-4)
    # An unlabelled (NaN) joint 3 no longer counts, and nothing turns NaN.
    unlabelled = dict(batch, joints=batch["joints"].clone())
    unlabelled["joints"][:, 3] = float("nan")
    terms = _loss(loss_fn, exact, unlabelled)
    assert torch.isfinite(terms["loss"]) and terms["joints"].item() == pytest.approx(0.0, abs=1e-9)


def _group_index(skel, group, loss_name):
    if loss_name == "crossinfonet":
        return list(skel.palm_indices if group == "palm" else skel.finger_indices)
    return list(skel.subtask_groups[group])


def test_fold_batchnorm_keeps_outputs():
    from handpose.models.batchnorm_folding import fold_batchnorm

    model = create_model("crossinfonet", skeleton="icvl16", input_size=32)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        for key, value in model(x).items():
            torch.testing.assert_close(folded(x)[key], value, atol=1e-4, rtol=1e-4)


def test_checked_folding_refuses_a_preactivation_pair():
    from handpose.models.batchnorm_folding import fold_batchnorm_checked

    class PreAct(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.conv1 = torch.nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv1(torch.relu(self.bn1(x)))

    model = PreAct()
    model.bn1.running_mean.fill_(0.5)
    model.bn1.running_var.fill_(3.0)
    x = torch.randn(2, 4, 8, 8)
    kept = fold_batchnorm_checked(model, x)
    assert isinstance(kept.bn1, torch.nn.BatchNorm2d)
    with torch.no_grad():
        torch.testing.assert_close(kept(x), model.eval()(x))


def test_int8_export_writes_a_smaller_working_model(tmp_path):
    from handpose.onnx_graph import export_onnx

    model = create_model("crossinfonet_base", skeleton="nyu14", input_size=32).eval()
    fp32 = export_onnx(model, tmp_path / "m.onnx")
    int8 = export_onnx(model, tmp_path / "m8.onnx", quantize="int8")
    dynamic = export_onnx(model, tmp_path / "m8d.onnx", quantize="int8-dynamic")
    assert int8.stat().st_size < 0.6 * fp32.stat().st_size  # FC weights are most of the file
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        ref = model(x)["joints"].numpy()
    # Block-wise int8 FC weights (and per-block int8 activations inside the kernel): outputs move by
    # about a percent of their range on this untrained network; convolutions are untouched.
    got = ort_session(int8).run(["joints"], {"image": x.numpy()})[0]
    assert np.abs(got - ref).max() < 0.03 * max(1.0, np.abs(ref).max())
    assert np.abs(got - ref).mean() < 0.005 * max(1.0, np.abs(ref).max())
    assert np.isfinite(ort_session(dynamic).run(["joints"], {"image": x.numpy()})[0]).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m8.onnx", "m8d.onnx"]
    with pytest.raises(HandposeError, match="quantisation"):
        export_onnx(model, tmp_path / "x.onnx", quantize="int4")


def test_models_verb_lists_parameters_and_flops(capsys):
    import json

    from handpose.cli import main

    assert main(["models", "--json", "--skeleton", "nyu14", "crossinfonet*"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == sorted(list_models("crossinfonet*"))
    full = next(r for r in rows if r["name"] == "crossinfonet")
    assert full["input"] == "1x96x96" and full["output_space"] == "cube"
    assert 20e6 < full["parameters"] < 30e6 and 0.9 < full["gflops"] < 1.3
    assert main(["models", "no_such_model"]) == 2
    assert "available: crossinfonet" in capsys.readouterr().err


def test_crossinfonet_joints_only_gives_the_same_joints_for_less_compute():
    from handpose.models._flops import count_flops

    model = create_model("crossinfonet", skeleton="msra21").eval()
    x = torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        full = model(x)
        lean = model.joints_only()(x)
    assert list(lean) == ["joints"]
    torch.testing.assert_close(lean["joints"], full["joints"])
    deploy_flops = count_flops(model, 96, 1)
    assert deploy_flops < 0.7 * count_flops(model.joints_only(False), 96, 1)


def test_imagenet_style_weights_load_into_depth_models():
    from handpose.models.backbones.resnet import resnet18

    rgb = resnet18(num_classes=1000)
    model = create_model("holistic_resnet18", skeleton="nyu14", weights=rgb.state_dict())
    torch.testing.assert_close(model.backbone.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.backbone.layer4[1].bn2.running_var, rgb.layer4[1].bn2.running_var)
    with pytest.raises(HandposeError, match="do not fit"):
        create_model(
            "fingerposenet", skeleton="nyu14", input_size=32, backbone="resnet18", width=0.5, weights=rgb.state_dict()
        )


def test_losses_and_models_do_not_import_each_other():
    # Fresh interpreters: importing either package must not pull in the other.
    code = "import sys, handpose.{0}; print(sorted(m for m in sys.modules if m.startswith('handpose.{1}')))"
    for first, other in (("losses", "models"), ("models", "losses")):
        done = subprocess.run(
            [sys.executable, "-c", code.format(first, other)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]", f"handpose.{first} imports {done.stdout.strip()}"


def test_every_model_names_a_registered_loss_with_parameters_it_takes():
    for name in list_models():
        spec = get_spec(name)
        check_loss(spec.loss, spec.loss_params)
    with pytest.raises(HandposeError, match="takes no parameter sigma"):
        check_loss("crossinfonet", {"sigma": 2.0})
    with pytest.raises(HandposeError, match="unknown loss 'l3'"):
        create_loss("l3", "nyu14")


def test_loss_config_overrides_the_model_default():
    assert default_loss("crossinfonet") == ("crossinfonet", {})
    assert default_loss("crossinfonet_cross") == ("crossinfonet", {"heatmap_weight": 0.0})
    # Same loss: parameters merge one by one; another loss: only the run's parameters.
    assert default_loss("crossinfonet_cross", None, {"heatmap_weight": 0.5}) == (
        "crossinfonet",
        {"heatmap_weight": 0.5},
    )
    assert default_loss("crossinfonet_cross", "depth_joints_l2") == ("depth_joints_l2", {})
    loss = create_loss("crossinfonet", "nyu14", heatmap_weight=0.0)
    assert loss.heatmap_weight == 0.0


def test_old_names_are_aliases_not_listed():
    names = list_models()
    assert not [n for n in names if n.startswith("ljg_") or n == "resunet_joint_loss"]
    assert {"learnable_groups_k3", "learnable_groups_one_group", "learnable_groups_manual_nofusion"} <= set(names)
    old = aliases()
    assert old["ljg_k3"] == "learnable_groups_k3" and old["resunet_joint_loss"] == "resunet"
    for alias, target in old.items():
        assert get_spec(alias) is get_spec(target)
    assert (
        create_model("ljg_k2", skeleton="canonical21", **TEST_OVERRIDES["learnable_groups"]).spec.name
        == "learnable_groups_k2"
    )
