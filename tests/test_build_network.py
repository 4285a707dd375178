import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.backbones.resnet import resnet18
from handpose.training.module import build_network


def test_packages_do_not_need_the_pretrained_backbone_file(tmp_path):
    weights = tmp_path / "resnet18.pth"
    torch.save(resnet18(num_classes=1000).state_dict(), weights)
    contract = {"model": "holistic_resnet18", "skeleton": "nyu14", "model_kwargs": {"weights": str(weights)}}
    assert build_network(contract).backbone.conv1.weight.shape[1] == 1
    weights.unlink()
    # Training from scratch again needs the file; rebuilding for trained weights does not.
    with pytest.raises(HandposeError):
        build_network(contract)
    assert build_network(contract, initial_weights=False).backbone.conv1.weight.shape[1] == 1


def test_every_model_accepts_its_crop_size_from_a_contract():
    # Training contracts name the crop size of every run; each model must take it as an argument.
    from handpose.models import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        contract = {"model": name, "skeleton": "canonical21", "model_kwargs": {"input_size": spec.input_size}}
        assert build_network(contract).spec.name == name
    contract = {"model": "holistic_resnet18", "skeleton": "nyu14", "model_kwargs": {"input_size": 64}}
    out = build_network(contract).eval()(torch.zeros(1, 1, 64, 64))
    assert out["joints"].shape == (1, 14, 3)
