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
