"""Learnable Groups' Eq. 10 (L1, beta = 20 on depth) in camera millimetres as written, or in 2.5D units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.codecs.uvz import encode_uvz
from handpose.losses import create_loss


def _camera_batch(xyz: np.ndarray, size: int = 64) -> dict[str, torch.Tensor]:
    """A batch whose 2.5D targets encode ``xyz`` with a pinhole crop camera centred on the optical axis."""
    k_crop = np.array([[[200.0, 0, size / 2], [0, 200.0, size / 2], [0, 0, 1]]] * len(xyz))
    uvz, root, scale = encode_uvz(xyz, k_crop, size, "canonical21")
    return {
        "image": torch.zeros(len(xyz), 3, size, size),
        "joints": torch.tensor(uvz, dtype=torch.float32),
        "joints_xyz": torch.tensor(xyz, dtype=torch.float32),
        "K_crop": torch.tensor(k_crop, dtype=torch.float32),
        "root_xyz": torch.tensor(root, dtype=torch.float32),
        "scale": torch.tensor(scale, dtype=torch.float32),
    }


def _hand(rng: np.random.Generator, count: int = 2) -> np.ndarray:
    return rng.normal(0, 30, (count, 21, 3)) + np.array([0.0, 0.0, 500.0])


def test_eq10_in_camera_mm_weights_depth_millimetres_by_twenty():
    rng = np.random.default_rng(0)
    xyz = _hand(rng)
    xyz[..., :2] = 0.0  # every joint on the optical axis: a depth change moves no X or Y
    batch = _camera_batch(xyz)
    loss = create_loss("learnable_groups_l1", "canonical21")  # camera mm is the default
    perfect = loss({"joints": batch["joints"].clone()}, batch)
    assert perfect["loss"].item() == pytest.approx(0.0, abs=1e-3)
    pred = batch["joints"].clone()
    pred[..., 2] += 10.0 / batch["scale"][:, None]  # 10 mm deeper, in scale-bone units
    out = loss({"joints": pred}, batch)
    assert out["z"].item() == pytest.approx(200.0, rel=1e-4)  # beta = 20 x 10 mm
    assert out["xy"].item() == pytest.approx(0.0, abs=1e-3)


def test_camera_and_uvz_units_differ_in_their_depth_balance():
    rng = np.random.default_rng(1)
    batch = _camera_batch(_hand(rng))
    pred = batch["joints"].clone()
    pred[..., 2] += 10.0 / batch["scale"][:, None]  # the same 10 mm depth error, measured both ways
    camera = create_loss("learnable_groups_l1", "canonical21")({"joints": pred}, batch)
    uvz = create_loss("learnable_groups_l1", "canonical21", units="uvz")({"joints": pred}, batch)
    # In 2.5D units 10 mm are 10 / scale bone units: the depth term shrinks by the scale-bone length in mm.
    assert camera["z"].item() == pytest.approx(200.0, rel=1e-4)
    assert uvz["z"].item() == pytest.approx(20 * (10.0 / batch["scale"]).mean().item(), rel=1e-4)
    assert camera["z"].item() > 10 * uvz["z"].item()
    with pytest.raises(Exception, match="units"):
        create_loss("learnable_groups_l1", "canonical21", units="pixels")


def test_camera_units_skip_missing_labels():
    batch = _camera_batch(_hand(np.random.default_rng(2)))
    batch["joints_xyz"][0, 5] = float("nan")
    pred = batch["joints"].clone().requires_grad_(True)
    out = create_loss("learnable_groups_l1", "canonical21")({"joints": pred}, batch)
    assert out["loss"].item() == pytest.approx(0.0, abs=1e-3)
    out["loss"].backward()
    assert torch.isfinite(pred.grad).all()
