"""Initial weights of a fresh run: ImageNet backbone files (model.weights) and checkpoints (model.init_from)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models import create_model
from handpose.models.backbones.pretrained import TORCHVISION_WEIGHTS, find_resnet, load_imagenet_backbone
from handpose.models.backbones.resnet import resnet18, resnet34
from handpose.training.config import load_config
from handpose.training.init_weights import initialise, load_matching, wants_weights
from training_helpers import TINY_CONFIG, tiny_run


def _saved(path, net):
    torch.save(net.state_dict(), path)
    return path


def test_imagenet_file_fills_the_backbone_and_reports_counts(tmp_path):
    torch.manual_seed(0)
    reference = resnet18(num_classes=1000)
    file = _saved(tmp_path / "imagenet_r18.pth", reference)
    model = create_model("holistic_resnet18", skeleton="nyu14", input_size=32)
    report = load_imagenet_backbone(model, file)
    assert report["arch"] == "resnet18" and report["prefix"] == "backbone."
    assert report["skipped"] == 2  # the classifier: fc.weight, fc.bias
    assert report["loaded"] == len(reference.state_dict()) - 2 and report["missing"] == 0
    torch.testing.assert_close(model.backbone.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    # One depth channel: the RGB stem filters summed.
    torch.testing.assert_close(model.backbone.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))


def test_resunet_encoder_takes_a_resnet34_file(tmp_path):
    reference = resnet34(num_classes=1000)
    model = create_model("resunet", fc_channels=32)
    assert find_resnet(model)[0] == "encoder."
    report = load_imagenet_backbone(model, _saved(tmp_path / "r34.pth", reference))
    assert report["arch"] == "resnet34" and report["missing"] == 0
    torch.testing.assert_close(model.encoder.conv1.weight, reference.conv1.weight)


def test_a_missing_file_says_where_to_get_it(tmp_path):
    model = create_model("fingerposenet", skeleton="nyu14", input_size=32)
    with pytest.raises(HandposeError) as err:
        load_imagenet_backbone(model, tmp_path / "resnet50-0676ba61.pth")
    message = str(err.value)
    assert "\n" not in message
    assert TORCHVISION_WEIGHTS["resnet50"].url in message and TORCHVISION_WEIGHTS["resnet50"].sha256 in message
    assert "model.weights=none" in message


def test_a_torchvision_name_must_match_its_digest(tmp_path):
    model = create_model("holistic_resnet18", skeleton="nyu14", input_size=32)
    # Random weights under torchvision's own name: not the published file.
    with pytest.raises(HandposeError, match="SHA-256"):
        load_imagenet_backbone(model, _saved(tmp_path / "resnet18-f37072fd.pth", resnet18()))
    # Any name-hash-suffixed file is checked against the 8 digits in its name.
    plain = _saved(tmp_path / "plain.pth", resnet18())
    digest = hashlib.sha256(plain.read_bytes()).hexdigest()
    hashed = plain.rename(tmp_path / f"resnet18-{digest[:8]}.pth")
    assert load_imagenet_backbone(model, hashed)["loaded"] > 0
    with pytest.raises(HandposeError, match="SHA-256"):
        load_imagenet_backbone(model, hashed.rename(tmp_path / f"resnet18-{'0' * 8}.pth"))


def test_models_without_an_imagenet_backbone_refuse_a_file(tmp_path):
    file = _saved(tmp_path / "r18.pth", resnet18())
    with pytest.raises(HandposeError, match="no ImageNet ResNet backbone"):
        load_imagenet_backbone(create_model("crossinfonet", skeleton="nyu14", input_size=32), file)
    # A file of another architecture does not fit.
    with pytest.raises(HandposeError, match="do not fit"):
        load_imagenet_backbone(create_model("fingerposenet", skeleton="nyu14", input_size=32), file)


def test_none_is_an_explicit_opt_out(tmp_path):
    cfg = load_config(TINY_CONFIG, ["model.weights=none"])
    assert cfg.model.weights == "none" and not wants_weights(cfg.model.weights)
    assert not wants_weights(None) and wants_weights("weights/resnet50-0676ba61.pth")
    model = create_model("holistic_resnet18", skeleton="nyu14", input_size=32)
    before = model.backbone.conv1.weight.clone()
    assert initialise(model, "none", None) == []
    torch.testing.assert_close(model.backbone.conv1.weight, before)


def test_init_from_copies_matching_tensors_and_refuses_other_shapes():
    from handpose.checkpoint_file import read_checkpoint

    run = tiny_run()
    contract, weights, _ = read_checkpoint(run.best)
    kwargs = {**load_config(TINY_CONFIG).model.kwargs, "input_size": 32}
    model = create_model("crossinfonet", skeleton=contract.skeleton, **kwargs)
    report = load_matching(model, run.best)
    assert report["model"] == "crossinfonet" and report["skipped"] == 0 and report["kept"] == 0
    assert report["matched"] == len(model.state_dict())
    torch.testing.assert_close(
        model.state_dict()["finger_regressor.fc2.0.weight"], weights["finger_regressor.fc2.0.weight"]
    )
    lines = initialise(model, None, str(run.best))
    assert len(lines) == 1 and f"{report['matched']} tensors of crossinfonet" in lines[0]
    # Another skeleton (other output sizes) or another width: refused in one line, nothing half-copied.
    for other in ({"skeleton": "nyu14"}, {"skeleton": contract.skeleton, "fc_dim": 32}):
        skeleton = other.pop("skeleton")
        changed = create_model("crossinfonet", skeleton=skeleton, **{**kwargs, **other})
        before = {k: v.clone() for k, v in changed.state_dict().items()}
        with pytest.raises(HandposeError, match="refusing a partial initialisation") as err:
            load_matching(changed, run.best)
        assert "\n" not in str(err.value)
        assert all(torch.equal(before[k], v) for k, v in changed.state_dict().items())
    with pytest.raises(HandposeError, match="train the run it comes from first"):
        load_matching(changed, run.best.parent / "missing.ckpt")
    with pytest.raises(HandposeError, match="no tensor"):
        load_matching(create_model("resunet", fc_channels=32), run.best)


def test_a_fresh_run_reports_its_initialisation(tmp_path):
    from handpose.training.run import train

    run = tiny_run()
    overrides = [f"model.init_from={run.best}", "trainer.max_steps=1", "trainer.max_epochs=1", f"out_dir={tmp_path}"]
    summary = train(load_config(TINY_CONFIG, overrides))
    assert len(summary["initial_weights"]) == 1 and "model.init_from:" in summary["initial_weights"][0]
