"""Prediction on an unlabelled photo with an RGB (2.5D) model: the hand-box crop, the root depth
recovered from the 2.5D joints and the assumed hand scale, and left hands mirrored in and out.

The network is an oracle that returns the true 2.5D joints of its crop, so every millimetre of error
would come from the crop geometry or the lifting, not from learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from handpose.codecs import uvz as uvz_codec
from handpose.contract import BoxCrop, Contract
from handpose.errors import HandposeError
from handpose.geometry import Camera
from handpose.inference import Estimator
from handpose.skeleton import get
from handpose.transforms.rgb import mirror_xyz

CAMERA = Camera(fx=500.0, fy=480.0, cx=170.0, cy=115.0, width=320, height=240)
SIZE = 64


class Oracle(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.answer = torch.zeros(1, 21, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"joints": self.answer.expand(x.shape[0], -1, -1)}


def _estimator(scale_mm: float | None) -> Estimator:
    contract = Contract(
        model="oracle",
        skeleton="canonical21",
        modality="rgb",
        input_size=SIZE,
        output_space="uvz",
        crop=BoxCrop(),
        in_channels=3,
        camera=CAMERA.to_dict(),
        hand_scale_mm=scale_mm,
    )
    return Estimator(Oracle(), contract)


def _hand(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, 30, (21, 3)) + np.array([20.0, -10.0, 450.0])


@pytest.mark.parametrize("hand", ["right", "left"])
def test_photo_joints_come_back_in_millimetres(rng, hand: str) -> None:
    xyz = _hand(rng)
    skel = get("canonical21")
    _, scale = uvz_codec.root_and_scale(xyz, skel)
    est = _estimator(float(scale))
    image = np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8)
    box = (60.0, 30.0, 150.0, 140.0)
    row = est.preprocess(image, CAMERA, None, box, hand)
    seen = mirror_xyz(xyz) if hand == "left" else xyz  # the network sees left hands mirrored
    answer, _, _ = uvz_codec.encode_uvz(seen, row["K_crop"].astype(np.float64), SIZE, skel)
    est.network.answer = torch.as_tensor(answer, dtype=torch.float32)[None]
    pred = est.predict(image, CAMERA, box=box, hand=hand)
    assert np.abs(pred.xyz - xyz).max() < 0.05  # float32 network output
    assert np.allclose(pred.uvd[:, :2], CAMERA.xyz_to_uvd(xyz)[:, :2], atol=0.01)


@pytest.mark.parametrize("hand", ["right", "left"])
def test_the_crop_shows_the_hand_where_its_intrinsics_say(hand: str) -> None:
    # A bright dot at a known 3D point must land on the crop pixel that K_crop projects it to.
    est = _estimator(40.0)
    point = np.array([[35.0, -20.0, 400.0]])
    u, v = CAMERA.xyz_to_uvd(point)[0, :2]
    image = np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8)
    image[round(v) - 1 : round(v) + 2, round(u) - 1 : round(u) + 2] = 255
    row = est.preprocess(image, CAMERA, None, (u - 40.0, v - 30.0, 100.0, 100.0), hand)
    seen = mirror_xyz(point) if hand == "left" else point
    K = row["K_crop"].astype(np.float64)
    expected = (K @ (seen[0] / seen[0, 2]))[:2]
    brightness = row["image"].sum(0)
    found = np.unravel_index(np.argmax(brightness), brightness.shape)[::-1]
    assert np.abs(np.asarray(found) - expected).max() <= 1.0


def test_photo_prediction_needs_a_hand_scale_for_3d_and_a_sane_box() -> None:
    est = _estimator(None)
    image = np.zeros((40, 40, 3), np.uint8)
    est.network.answer = torch.zeros(1, 21, 3)
    est.network.answer[0, :, 0] = torch.linspace(-0.5, 0.5, 21)
    est.network.answer[0, :, 2] = torch.linspace(-0.2, 0.2, 21)
    # No scale assumption: 2D joints and the root-relative shape in scale-bone lengths, no camera 3D.
    unscaled = est.predict(image, CAMERA)
    assert not unscaled.has_camera_xyz and np.isnan(unscaled.uvd[:, 2]).all()
    assert np.isfinite(unscaled.uvd[:, :2]).all() and unscaled.root_relative_units == "scale bone"
    record = unscaled.to_dict()
    assert record["xyz_mm"] is None and "xyz_root_relative_scale_bone" in record
    with pytest.raises(HandposeError, match="--hand-scale"):
        est.hand_scale_mm()
    est.scale_override_mm = 40.0
    scaled = est.predict(image, CAMERA)
    assert scaled.has_camera_xyz and scaled.root_relative_units == "mm"
    # The scale changes the size of the hand, not where it is in the image.
    np.testing.assert_allclose(scaled.uvd[:, :2], unscaled.uvd[:, :2], atol=1e-6)
    np.testing.assert_allclose(scaled.root_relative, unscaled.root_relative * 40.0, atol=1e-6)
    with pytest.raises(HandposeError, match="positive width"):
        est.predict(image, CAMERA, box=(0, 0, 0, 10))
    with pytest.raises(HandposeError, match="left or right"):
        est.predict(image, CAMERA, hand="both")


class RelOracle(nn.Module):
    """A root-relative model (ResUnet's outputs) that returns given root-relative and 2D joints."""

    def __init__(self) -> None:
        super().__init__()
        self.rel = torch.zeros(1, 21, 3)
        self.uv = torch.zeros(1, 21, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        return {"joints": self.rel.expand(n, -1, -1), "uv": self.uv.expand(n, -1, -1)}


def _rel_estimator(scale_mm: float | None) -> Estimator:
    contract = Contract(
        model="rel_oracle",
        skeleton="canonical21",
        modality="rgb",
        input_size=SIZE,
        output_space="rel",
        crop=BoxCrop(),
        in_channels=3,
        camera=CAMERA.to_dict(),
        hand_scale_mm=scale_mm,
    )
    return Estimator(RelOracle(), contract)


@pytest.mark.parametrize("hand", ["right", "left"])
def test_root_relative_model_on_a_photo(rng, hand: str) -> None:
    # The true root-relative joints and the true 2D joints of the crop give back the hand in camera mm
    # (with the right scale), its root-relative joints in mm, and its 2D joints in the image.
    xyz = _hand(rng)
    skel = get("canonical21")
    rel_true, root, scale = uvz_codec.encode_rel(xyz, skel)
    est = _rel_estimator(float(scale))
    image = np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8)
    box = (60.0, 30.0, 150.0, 140.0)
    row = est.preprocess(image, CAMERA, None, box, hand)
    seen = mirror_xyz(xyz) if hand == "left" else xyz
    uvz, _, _ = uvz_codec.encode_uvz(seen, row["K_crop"].astype(np.float64), SIZE, skel)
    seen_rel, _, _ = uvz_codec.encode_rel(seen, skel)
    est.network.rel = torch.as_tensor(seen_rel, dtype=torch.float32)[None]
    est.network.uv = torch.as_tensor(uvz[:, :2], dtype=torch.float32)[None]
    pred = est.predict(image, CAMERA, box=box, hand=hand)
    assert np.abs(pred.xyz - xyz).max() < 0.05
    np.testing.assert_allclose(pred.root_relative, xyz - root, atol=0.05)
    np.testing.assert_allclose(pred.uvd[:, :2], CAMERA.xyz_to_uvd(xyz)[:, :2], atol=0.01)
    record = pred.to_dict()
    assert len(record["xyz_mm"]) == 21 and len(record["xyz_root_relative_mm"]) == 21
    assert np.allclose(rel_true * scale, xyz - root)


def test_root_relative_model_without_a_scale_gives_2d_and_shape(rng) -> None:
    xyz = _hand(rng)
    skel = get("canonical21")
    est = _rel_estimator(None)
    image = np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8)
    row = est.preprocess(image, CAMERA)
    uvz, _, _ = uvz_codec.encode_uvz(xyz, row["K_crop"].astype(np.float64), SIZE, skel)
    rel, _, _ = uvz_codec.encode_rel(xyz, skel)
    est.network.rel = torch.as_tensor(rel, dtype=torch.float32)[None]
    est.network.uv = torch.as_tensor(uvz[:, :2], dtype=torch.float32)[None]
    pred = est.predict(image, CAMERA)
    assert not pred.has_camera_xyz
    np.testing.assert_allclose(pred.root_relative, rel, atol=1e-5)
    np.testing.assert_allclose(pred.uvd[:, :2], CAMERA.xyz_to_uvd(xyz)[:, :2], atol=0.01)


def test_handpose_predict_runs_a_root_relative_package_on_a_photo(tmp_path, rng) -> None:
    # A small randomly initialised ResUnet packaged with its ONNX graph: the command writes the same
    # JSON and pictures as for a 2.5D model, through PyTorch and through ONNX Runtime.
    import json

    import cv2

    from handpose.cli import main
    from handpose.export import package_network
    from handpose.models.registry import build_network

    small = {"input_size": 64, "encoder": "resnet18", "width": 0.25, "decoder_channels": [16, 16, 8, 8]}
    small.update(branch_channels=[8, 8, 8, 8], fc_channels=32)
    contract = Contract(
        model="resunet",
        skeleton="canonical21",
        modality="rgb",
        input_size=64,
        output_space="rel",
        crop=BoxCrop(),
        in_channels=3,
        model_kwargs=small,
        camera=CAMERA.to_dict(),
        hand_scale_mm=30.0,
    )
    torch.manual_seed(0)
    package = tmp_path / "resunet"
    info = package_network(build_network(contract).eval(), contract, {}, "test", package, onnx=True)
    assert info["onnx"]["outputs"] == ["joints", "uv"]
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), rng.integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8))
    records = {}
    for runtime in ("torch", "onnx"):
        out = tmp_path / runtime
        assert main(["predict", str(package), str(photo), "--out", str(out), "--runtime", runtime]) == 0
        records[runtime] = json.loads((out / "photo.json").read_text())
        assert (out / "photo_overlay.png").is_file() and (out / "photo_3d.png").is_file()
    record = records["torch"]
    assert len(record["xyz_mm"]) == 21 and len(record["xyz_root_relative_mm"]) == 21 and record["hand_scale_mm"] == 30.0
    root = np.asarray(record["xyz_root_relative_mm"])[get("canonical21").root_index]
    assert np.allclose(root, 0.0, atol=1e-3)
    np.testing.assert_allclose(records["onnx"]["uvd"], record["uvd"], atol=0.05)
