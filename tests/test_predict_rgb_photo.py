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


def test_photo_prediction_needs_a_hand_scale_and_a_sane_box() -> None:
    est = _estimator(None)
    image = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(HandposeError, match="--hand-scale"):
        est.predict(image, CAMERA)
    est.scale_override_mm = 40.0
    est.network.answer = torch.zeros(1, 21, 3)
    est.network.answer[0, :, 0] = torch.linspace(-0.5, 0.5, 21)
    assert np.isfinite(est.predict(image, CAMERA).xyz).all()
    with pytest.raises(HandposeError, match="positive width"):
        est.predict(image, CAMERA, box=(0, 0, 0, 10))
    with pytest.raises(HandposeError, match="left or right"):
        est.predict(image, CAMERA, hand="both")
