import pytest
import torch

from handpose.contract import BoxCrop, Contract, DepthCrop
from handpose.errors import HandposeError
from handpose.models.backbones.resnet import resnet18
from handpose.models.registry import build_network, get_spec


def contract_for(name: str, skeleton: str, **model_kwargs) -> Contract:
    spec = get_spec(name)
    return Contract(
        model=name,
        skeleton=skeleton,
        modality=spec.modality,
        input_size=int(model_kwargs.get("input_size", spec.input_size)),
        output_space=spec.output_space,
        crop=DepthCrop(cube_mm=250.0) if spec.modality == "depth" else BoxCrop(),
        in_channels=spec.in_channels,
        model_kwargs=model_kwargs,
    )


def test_packages_do_not_need_the_pretrained_backbone_file(tmp_path):
    weights = tmp_path / "resnet18.pth"
    torch.save(resnet18(num_classes=1000).state_dict(), weights)
    contract = contract_for("holistic_resnet18", "nyu14", weights=str(weights))
    assert build_network(contract).backbone.conv1.weight.shape[1] == 1
    weights.unlink()
    # Training from scratch again needs the file; rebuilding for trained weights does not.
    with pytest.raises(HandposeError):
        build_network(contract)
    assert build_network(contract, initial_weights=False).backbone.conv1.weight.shape[1] == 1


def test_every_model_accepts_its_crop_size_from_a_contract():
    # Training contracts name the crop size of every run; each model must take it as an argument.
    from handpose.models import list_models

    for name in list_models():
        contract = contract_for(name, "canonical21", input_size=get_spec(name).input_size)
        assert build_network(contract).spec.name == name
    out = build_network(contract_for("holistic_resnet18", "nyu14", input_size=64)).eval()(torch.zeros(1, 1, 64, 64))
    assert out["joints"].shape == (1, 14, 3)
