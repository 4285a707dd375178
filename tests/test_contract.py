"""The typed preprocessing contract: validated on read, round-trips, and reads version 1 files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handpose.contract import CONTRACT_VERSION, BoxCrop, Contract, DepthCrop, LossSpec, RGBNormalisation
from handpose.errors import HandposeError

V1 = Path(__file__).parent / "fixtures" / "contract_v1"


def depth_contract(**changes) -> dict:
    stored = json.loads((V1 / "package" / "model.json").read_text())["contract"]
    stored.update(changes)
    return stored


def test_version_1_contract_reads_and_round_trips():
    contract = Contract.from_dict(depth_contract(), "model.json")
    assert contract.version == 1 and contract.loss is None
    assert contract.model == "crossinfonet" and contract.input_size == 32 and contract.skeleton == "nyu14"
    assert isinstance(contract.crop, DepthCrop) and contract.crop.cube_mm == 250.0
    assert contract.crop.eval_center == "com" and contract.depth_crop is contract.crop
    again = Contract.from_dict(contract.to_dict(), "again")
    assert again == contract


def test_rgb_contract_round_trips_with_its_normalisation_and_loss():
    contract = Contract(
        model="learnable_groups_k3",
        skeleton="canonical21",
        modality="rgb",
        input_size=128,
        output_space="uvz",
        crop=BoxCrop({"margin": 1.3}),
        in_channels=3,
        rgb=RGBNormalisation(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
        hand_scale_mm=31.5,
        loss=LossSpec("learnable_groups", {"weight": 2.0}),
    )
    stored = json.loads(json.dumps(contract.to_dict()))
    assert stored["version"] == CONTRACT_VERSION and stored["loss"] == {
        "name": "learnable_groups",
        "params": {"weight": 2.0},
    }
    assert Contract.from_dict(stored, "x") == contract


def test_the_rgb_transform_normalises_with_the_contracts_mean_and_std():
    from handpose.transforms import make_transform

    stored = depth_contract(modality="rgb", output_space="uvz", in_channels=3, skeleton="canonical21", joint_names=None)
    stored["crop"] = {"kind": "keypoint_box"}
    stored["rgb"] = {"mean": [0.5, 0.25, 0.0], "std": [0.5, 0.25, 1.0], "scale": 1 / 255}
    transform = make_transform(Contract.from_dict(stored, "x"), train=False)
    luts = transform.normalisation_luts
    # 255 -> (1 - mean) / std per channel; 0 -> -mean / std.
    np.testing.assert_allclose([lut[255, 0] for lut in luts], [1.0, 3.0, 1.0], atol=1e-6)
    np.testing.assert_allclose([lut[0, 0] for lut in luts], [-1.0, -1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "abc"}, "version must be a whole number"),
        ({"version": 99}, "newer handpose"),
        ({"input_size": 1e6}, "input_size must lie in"),
        ({"input_size": "96"}, "input_size must be a whole number"),
        ({"input_size": 0}, "input_size must lie in"),
        ({"in_channels": -1}, "in_channels must lie in"),
        ({"model_kwargs": {"fc_dim": 1e7}}, "model_kwargs.fc_dim must lie in"),
        ({"model_kwargs": {"channels": -8}}, "model_kwargs.channels must lie in"),
        ({"model_kwargs": {"stem_channels": 2.5}}, "model_kwargs.stem_channels must be a whole number"),
        ({"model_kwargs": {"width": float("nan")}}, "model_kwargs.width must be finite"),
        ({"model_kwargs": {"width": 1e4}}, "model_kwargs.width must lie in"),
        ({"model_kwargs": {"width": 0}}, "model_kwargs.width must be positive"),
        ({"crop": {"kind": "cube"}}, "lacks crop.cube_mm"),
        ({"crop": {"kind": "cube", "cube_mm": -250}}, "crop.cube_mm must"),
        ({"crop": {"kind": "cube", "cube_mm": float("inf")}}, "crop.cube_mm must be a finite number"),
        ({"crop": {"kind": "cube", "cube_mm": 250, "train_cube_mm": [300, 200]}}, "low <= high"),
        ({"crop": {"kind": "cube", "cube_mm": 250, "eval_center": "middle"}}, "crop.eval_center must be one of"),
        ({"modality": "thermal"}, "modality must be one of"),
        ({"skeleton": "octopus"}, "unknown skeleton"),
        ({"joint_names": ["a", "b"]}, "joint_names has 2 names"),
        ({"camera": {"fx": 0, "fy": 500, "cx": 1, "cy": 1}}, "camera.fx must be positive"),
        ({"loss": {"name": ""}}, "loss"),
        ({"model": None}, "lacks 'model'"),
    ],
)
def test_bad_contracts_are_one_line_naming_the_file(change, message):
    stored = depth_contract(**change)
    if change.get("model", 1) is None:
        del stored["model"]
    with pytest.raises(HandposeError) as info:
        Contract.from_dict(stored, "runs/x/model.json")
    text = str(info.value)
    assert message in text and "runs/x/model.json" in text and "\n" not in text


def test_not_a_contract():
    for value in (None, [], {"format": "other"}):
        with pytest.raises(HandposeError, match="no preprocessing contract"):
            Contract.from_dict(value, "f.ckpt")


def test_training_writes_the_configured_loss_into_the_contract():
    from handpose.training.config import config_from_dict
    from handpose.training.contract import run_contract

    base = {"name": "x", "model": {"name": "crossinfonet", "input_size": 32}, "data": {"dataset": "synthetic_stream"}}
    default = run_contract(config_from_dict(base, source="t"), "nyu14", {})
    assert default.loss is not None and default.loss.name == "crossinfonet"
    tuned = run_contract(config_from_dict({**base, "loss": {"heatmap_weight": 0.0}}, source="t"), "nyu14", {})
    assert tuned.loss is not None and tuned.loss.params["heatmap_weight"] == 0.0
    assert Contract.from_dict(tuned.to_dict(), "t") == tuned
