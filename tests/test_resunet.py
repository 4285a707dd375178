"""ResUnet: bones -> joints on the kinematic tree, decoder resolutions, encoder names, loss terms."""

from __future__ import annotations

import pytest
import torch

from handpose import skeleton as skeletons
from handpose.codecs.bones import joints_to_bones
from handpose.codecs.heatmap import HeatmapTargets, gaussian_heatmaps, with_heatmap_targets
from handpose.errors import HandposeError
from handpose.losses import create_loss
from handpose.models import create_model
from handpose.models.backbones.resnet import resnet34
from handpose.models.registry import default_loss

SMALL = {"width": 0.25, "decoder_channels": (32, 16, 16, 8), "branch_channels": (8, 8, 16, 16), "fc_channels": 32}


def small(name: str = "resunet", skeleton: str = "canonical21", **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, skeleton=skeleton, **{**SMALL, **kw})


def test_bones_sum_to_joints_from_the_root():
    skel = skeletons.get("canonical21")
    model = small().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 128, 128))
    assert out["bones"].shape == (2, 20, 3) and out["joints"].shape == (2, 21, 3)
    joints, bones = out["joints"], out["bones"]
    # Each joint is its parent plus its bone; the root joint (middle MCP) is the origin of the "rel" space.
    for b, (parent, child) in enumerate(skel.bones):
        torch.testing.assert_close(joints[:, child] - joints[:, parent], bones[:, b])
    torch.testing.assert_close(joints[:, skel.root_index], torch.zeros(2, 3))
    # The wrist-to-middle-tip chain: tip = wrist + four bones along the finger.
    chain = [b for b, (_, c) in enumerate(skel.bones) if c in skel.fingers["middle"]]
    torch.testing.assert_close(joints[:, skel.fingers["middle"][-1]], joints[:, 0] + bones[:, chain].sum(dim=1))


def test_other_skeleton_orders_use_their_own_tree():
    skel = skeletons.get("rhd21")  # fingers stored tip -> MCP: parents come after children
    model = small(skeleton="rhd21").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 128))
    torch.testing.assert_close(joints_to_bones(out["joints"], skel), out["bones"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out["joints"][:, skel.root_index], torch.zeros(1, 3))


def test_decoder_resolutions_at_128():
    model = small().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 128))
    assert out["heatmaps"].shape == (1, 21, 64, 64)
    assert out["heatmaps_s4"].shape[-1] == 32 and out["heatmaps_s8"].shape[-1] == 16
    assert out["heatmaps_s16"].shape[-1] == 8
    assert out["uv"].shape == (1, 21, 2) and out["uv"].abs().max() <= 1.0
    assert len(model.decoder) == 4
    # The latent readout is the softmax expectation over the final heatmaps.
    uv, _, _ = model.latent(out["heatmaps"])
    torch.testing.assert_close(uv, out["uv"])


def test_3d_branch_has_two_conv_relu_per_stage():
    # The paper's 3D branch: every stage is two 3x3 convolutions with ReLU, then a 2x max-pooling.
    model = small()
    assert len(model.branch) == 4
    for stage, width in zip(model.branch, SMALL["branch_channels"], strict=True):
        convs = [m for m in stage.modules() if isinstance(m, torch.nn.Conv2d)]
        relus = [m for m in stage.modules() if isinstance(m, torch.nn.ReLU)]
        assert len(convs) == 2 and len(relus) == 2
        assert all(c.kernel_size == (3, 3) for c in convs)
        assert convs[0].out_channels == convs[1].in_channels == convs[1].out_channels == width
    # Each stage halves the resolution once: stride 2 in, stride 32 (4x4 at 128 px) out of the last one.
    seen = []
    model.branch[-1].register_forward_hook(lambda mod, inp, out: seen.append(out.shape[-1]))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 128, 128))
    assert seen == [8]  # before its max-pooling: 8x8 -> 4x4


def test_encoder_is_resnet34_with_torchvision_names(tmp_path):
    model = create_model("resunet", fc_channels=32)
    keys = model.state_dict()
    assert "encoder.conv1.weight" in keys and "encoder.layer4.2.conv2.weight" in keys  # 3-4-6-3 units
    assert "encoder.layer3.5.bn2.running_var" in keys and "encoder.layer3.6.bn2.running_var" not in keys
    reference = resnet34()
    torch.save(reference.state_dict(), tmp_path / "r34.pth")
    loaded = create_model("resunet", fc_channels=32, encoder_weights=str(tmp_path / "r34.pth"))
    torch.testing.assert_close(loaded.encoder.layer2[1].conv1.weight, reference.layer2[1].conv1.weight)


def test_bad_configurations_are_rejected():
    with pytest.raises(HandposeError, match="multiple of 32"):
        create_model("resunet", input_size=100)
    with pytest.raises(HandposeError, match="cannot serve skeleton"):
        create_model("resunet", skeleton="dexter5")


def test_loss_terms():
    skel = skeletons.get("canonical21")
    target = torch.randn(2, 21, 3)
    target = target - target[:, skel.root_index : skel.root_index + 1]
    uv = torch.rand(2, 21, 2) * 1.6 - 0.8
    batch = {"joints": target, "joints_crop": torch.cat((uv, torch.zeros(2, 21, 1)), dim=-1)}
    perfect = {
        "joints": target,
        "bones": joints_to_bones(target, skel),
        "uv": uv,
        "heatmaps": gaussian_heatmaps(uv, 16, sigma=2.0),
        "heatmaps_s8": gaussian_heatmaps(uv, 8, sigma=1.0),
    }
    targets = create_loss("resunet", skel).heatmap_targets
    assert targets == HeatmapTargets("gaussian", 2.0)
    batch = with_heatmap_targets(batch, perfect, targets)  # sigma halves with the map's side
    terms = create_loss("resunet", skel)(perfect, batch)
    assert set(terms) == {"loss", "heatmap", "uv", "bone"}
    assert terms["loss"].item() == pytest.approx(0.0, abs=1e-6)
    off = dict(perfect, bones=perfect["bones"] + 0.5)
    # The paper's bone loss: 1/2 sum over the 20 bones of |dB|^2 = 1/2 * 20 * 3 * 0.25 per sample.
    assert create_loss("resunet", skel)(off, batch)["bone"].item() == pytest.approx(7.5)
    assert create_loss("resunet", skel, bone_loss="l1")(off, batch)["bone"].item() == pytest.approx(0.5)
    one_bone = perfect["bones"].clone()
    one_bone[0, 3] += torch.tensor([0.3, 0.4, 0.0])  # one bone of one sample off by 0.5 in length
    assert create_loss("resunet", skel)(dict(perfect, bones=one_bone), batch)["bone"].item() == pytest.approx(
        0.5 * 0.25 / 2
    )
    joint_terms = create_loss("resunet", skel, joint_weight=1.0)(dict(perfect, joints=target + 0.25), batch)
    assert joint_terms["joint"].item() == pytest.approx(0.25)
    # The retired joint-loss model name is the same network trained with that loss parameter.
    assert create_model("resunet_joint_loss", **SMALL).spec.name == "resunet"
    assert default_loss("resunet_joint_loss") == ("resunet", {"joint_weight": 1.0})
    assert create_loss("resunet_joint", skel)(dict(perfect, joints=target + 0.25), batch)[
        "joint"
    ].item() == pytest.approx(0.25)


def test_wrong_image_size_is_one_line_error():
    model = small().eval()
    with pytest.raises(HandposeError, match="expected a"):
        model(torch.zeros(1, 3, 96, 96))


def test_loss_skips_missing_labels():
    skel = skeletons.get("canonical21")
    target = torch.zeros(1, 21, 3)
    target[0, 20] = float("nan")  # the little fingertip is unlabelled
    crop = torch.zeros(1, 21, 3)
    crop[0, 20] = float("nan")
    outputs = {
        "joints": torch.zeros(1, 21, 3, requires_grad=True),
        "uv": torch.zeros(1, 21, 2),
        "heatmaps": gaussian_heatmaps(torch.zeros(1, 21, 2), 8, sigma=2.0),
    }
    outputs["heatmaps"][0, 20] = 5.0  # anything is fine where there is no label
    loss = create_loss("resunet", skel, joint_weight=1.0)
    batch = with_heatmap_targets({"joints": target, "joints_crop": crop}, outputs, loss.heatmap_targets)
    terms = loss(outputs, batch)
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["loss"].item() == pytest.approx(0.0, abs=1e-6)
