"""ResNet backbones: torchvision naming, weight loading, channel adaptation, slim layout and FPN."""

from __future__ import annotations

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.backbones.fpn import CrossInfoFPN
from handpose.models.backbones.resnet import (
    adapt_stem,
    load_torchvision_weights,
    resnet18,
    resnet34,
    resnet50,
    slim_resnet50,
)

# Parameter counts of torchvision.models.resnet{18,34,50}() with the 1000-class head.
TORCHVISION_PARAMS = {resnet18: 11_689_512, resnet34: 21_797_672, resnet50: 25_557_032}

# A sample of torchvision's state-dict keys; a renamed module breaks direct loading.
TORCHVISION_KEYS_50 = [
    "conv1.weight",
    "bn1.running_var",
    "layer1.0.conv1.weight",
    "layer1.0.bn3.bias",
    "layer1.0.downsample.0.weight",
    "layer1.0.downsample.1.running_mean",
    "layer3.5.conv2.weight",
    "layer4.2.bn3.num_batches_tracked",
    "fc.weight",
    "fc.bias",
]


@pytest.mark.parametrize("factory", list(TORCHVISION_PARAMS))
def test_parameter_count_matches_torchvision(factory):
    model = factory(num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_PARAMS[factory]


def test_state_dict_names_match_torchvision():
    keys = set(resnet50(num_classes=1000).state_dict())
    assert set(TORCHVISION_KEYS_50) <= keys
    assert "layer1.0.downsample.0.weight" not in resnet18().state_dict()
    assert "layer2.0.downsample.1.weight" in resnet18().state_dict()


def test_forward_features_shapes_and_strides():
    model = resnet18(in_channels=1).eval()
    feats = model.forward_features(torch.zeros(2, 1, 64, 64))
    assert [f.shape[1] for f in feats] == list(model.stage_channels) == [64, 128, 256, 512]
    assert [f.shape[-1] for f in feats] == [64 // s for s in model.stage_strides]


def test_width_multiplier_scales_channels():
    model = resnet50(in_channels=1, width=0.5).eval()
    assert model.stage_channels == (128, 256, 512, 1024)
    assert model.forward_features(torch.zeros(1, 1, 32, 32))[-1].shape[1] == 1024


def test_rgb_weights_load_into_depth_stem_by_summing(tmp_path):
    rgb = resnet18(num_classes=1000)
    torch.nn.init.normal_(rgb.conv1.weight)
    path = tmp_path / "r18.pth"
    torch.save(rgb.state_dict(), path)
    depth = resnet18(in_channels=1)
    report = load_torchvision_weights(depth, path)
    assert "fc.weight" in report["skipped"] and not report["missing"]
    torch.testing.assert_close(depth.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(depth.layer3[1].conv2.weight, rgb.layer3[1].conv2.weight)
    # A grey image through the RGB net equals the same intensities through the summed 1-channel stem.
    grey = torch.rand(1, 1, 32, 32)
    rgb.eval(), depth.eval()
    torch.testing.assert_close(
        depth.forward_features(grey)[-1], rgb.forward_features(grey.expand(1, 3, 32, 32))[-1], atol=1e-4, rtol=1e-4
    )


def test_safetensors_and_prefix(tmp_path):
    from safetensors.torch import save_file

    src = resnet18()
    path = tmp_path / "r18.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    holder = torch.nn.Module()
    holder.backbone = resnet18(in_channels=4)
    report = load_torchvision_weights(holder, path, prefix="backbone.")
    assert not report["missing"]
    torch.testing.assert_close(holder.backbone.conv1.weight, adapt_stem(src.conv1.weight, 4))


def test_bad_weights_are_one_line_errors(tmp_path):
    with pytest.raises(HandposeError, match="not found"):
        load_torchvision_weights(resnet18(), tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(HandposeError, match="cannot read"):
        load_torchvision_weights(resnet18(), junk)
    with pytest.raises(HandposeError, match="do not fit"):
        load_torchvision_weights(resnet18(width=0.5), resnet18().state_dict())
    with pytest.raises(HandposeError, match="no tensor"):
        load_torchvision_weights(resnet18(), {"other.weight": torch.zeros(1)})


def test_slim_layout_matches_crossinfonet_reference():
    model = slim_resnet50(in_channels=1).eval()
    assert model.conv1.kernel_size == (5, 5) and model.conv1.out_channels == 32
    assert model.maxpool.stride == 1
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3, model.layer4)] == [3, 4, 6, 3]
    # Stride sits in the last unit of every stage; its identity shortcut is subsampled, not projected.
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        assert [u.conv2.stride[0] for u in stage] == [1] * (len(stage) - 1) + [2]
        assert isinstance(stage[-1].downsample, torch.nn.MaxPool2d)
    feats = model.forward_features(torch.zeros(2, 1, 96, 96))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 24, 24), (128, 12, 12), (256, 6, 6), (256, 3, 3)]


def test_fpn_levels():
    backbone = slim_resnet50()
    fpn = CrossInfoFPN(backbone.stage_channels, 256).eval()
    levels = fpn(backbone.eval().forward_features(torch.zeros(1, 1, 96, 96)))
    assert [tuple(f.shape[1:]) for f in levels] == [(256, 24, 24), (256, 12, 12), (256, 6, 6), (256, 3, 3)]


def test_channels_last_gives_same_result():
    model = resnet18(in_channels=1).eval()
    x = torch.randn(2, 1, 32, 32)
    ref = model(x)
    out = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
