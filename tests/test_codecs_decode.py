"""handpose.codecs.decode_batch: the one decoder from every output space to camera-space mm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose import codecs
from handpose.codecs import cube as cube_codec
from handpose.codecs import uvz as uvz_codec
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS


def _depth_batch(rng: np.random.Generator, batch: int = 3) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    cam = CAMERAS["nyu"]
    center = np.stack([rng.uniform(-100, 100, batch), rng.uniform(-80, 80, batch), rng.uniform(500, 900, batch)], 1)
    xyz = center[:, None, :] + rng.normal(0, 50, (batch, 14, 3))
    geometry = {
        "center_xyz": center,
        "cube": np.stack([rng.uniform(150, 300, batch)] * 3, 1),
        "rotation_deg": rng.uniform(-180, 180, batch),
        "camera": np.tile([cam.fx, cam.fy, cam.cx, cam.cy], (batch, 1)),
    }
    return xyz, geometry


def _rgb_batch(rng: np.random.Generator, batch: int = 3, size: int = 128) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    xyz = rng.normal(0, 40, (batch, 21, 3)) + np.array([30.0, -20.0, 600.0])
    k = np.tile(np.array([[300.0, 0.0, 60.0], [0.0, 310.0, 66.0], [0.0, 0.0, 1.0]]), (batch, 1, 1))
    _, root, scale = uvz_codec.encode_uvz(xyz, k, size, "canonical21")
    geometry = {"K_crop": k, "root_xyz": root, "scale": scale, "image": np.zeros((batch, 3, size, size), np.float32)}
    return xyz, geometry


def test_cube_space_numpy_and_torch(rng):
    xyz, geometry = _depth_batch(rng)
    norm = cube_codec.encode(xyz, *geometry.values())
    assert np.abs(codecs.decode_batch(norm, geometry, "cube") - xyz).max() < 1e-6
    tensors = {k: torch.from_numpy(v) for k, v in geometry.items()}
    pred = torch.tensor(norm, dtype=torch.float64, requires_grad=True)
    out = codecs.decode_batch(pred, tensors, "cube")
    assert isinstance(out, torch.Tensor) and (out.detach().numpy() - xyz).__abs__().max() < 1e-6
    out.sum().backward()  # training decodes with gradients
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_uvz_and_rel_spaces(rng):
    xyz, geometry = _rgb_batch(rng)
    uvz, _, _ = uvz_codec.encode_uvz(xyz, geometry["K_crop"], 128, "canonical21")
    rel, _, _ = uvz_codec.encode_rel(xyz, "canonical21")
    assert np.abs(codecs.decode_batch(uvz, geometry, "uvz") - xyz).max() < 1e-6  # crop size from the image
    assert np.abs(codecs.decode_batch(rel, geometry, "rel") - xyz).max() < 1e-6
    no_image = {k: v for k, v in geometry.items() if k != "image"}
    assert np.abs(codecs.decode_batch(uvz, no_image, "uvz", crop_size=128) - xyz).max() < 1e-6
    # A wrong crop size moves the joints: the argument is used, not ignored.
    assert np.abs(codecs.decode_batch(uvz, no_image, "uvz", crop_size=256) - xyz).max() > 1.0
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in geometry.items()}
    out = codecs.decode_batch(torch.tensor(uvz, dtype=torch.float32), tensors, "uvz")
    assert out.dtype == torch.float32 and (out.double().numpy() - xyz).__abs__().max() < 0.05


def test_uvz_without_root_recovers_it_from_the_assumed_scale(rng):
    xyz, geometry = _rgb_batch(rng)
    uvz, _, scale = uvz_codec.encode_uvz(xyz, geometry["K_crop"], 128, "canonical21")
    photo = {"K_crop": geometry["K_crop"], "scale": scale}
    out = codecs.decode_batch(uvz, photo, "uvz", crop_size=128, skeleton="canonical21")
    assert np.abs(out - xyz).max() < 1e-6
    with pytest.raises(HandposeError, match="skeleton"):
        codecs.decode_batch(uvz, photo, "uvz", crop_size=128)


def test_unknown_space_and_missing_geometry_are_one_line_errors(rng):
    xyz, geometry = _depth_batch(rng)
    with pytest.raises(HandposeError, match="unknown output space 'xyz'"):
        codecs.decode_batch(xyz, geometry, "xyz")
    with pytest.raises(HandposeError, match="root_xyz"):
        codecs.decode_batch(xyz, geometry, "rel")
    partial = {k: v for k, v in geometry.items() if k != "camera"}
    with pytest.raises(HandposeError, match="camera"):
        codecs.decode_batch(xyz, partial, "cube")


def test_bounded_cube_decoding_clips_to_the_cube_and_never_moves_away_from_a_joint_inside(rng):
    xyz, geometry = _depth_batch(rng)
    target = np.clip(cube_codec.encode(xyz, *geometry.values()), -1, 1)  # labels inside the cube
    inside = codecs.decode_batch(target, geometry, "cube")
    wild = target + rng.normal(0, 3, target.shape)  # predictions, many far outside the cube
    raw = codecs.decode_batch(wild, geometry, "cube")
    bounded = codecs.decode_batch(wild, geometry, "cube", bounded=True)
    assert np.abs(cube_codec.encode(bounded, *geometry.values())).max() <= 1 + 1e-9
    raw_error = np.linalg.norm(raw - inside, axis=-1)
    bounded_error = np.linalg.norm(bounded - inside, axis=-1)
    assert (bounded_error <= raw_error + 1e-9).all() and (bounded_error < raw_error - 1).any()
    # Inside the cube nothing moves; torch clips as numpy does.
    assert np.abs(codecs.decode_batch(target, geometry, "cube", bounded=True) - inside).max() < 1e-6
    tensors = {k: torch.from_numpy(v) for k, v in geometry.items()}
    clipped = codecs.decode_batch(torch.from_numpy(wild), tensors, "cube", bounded=True)
    assert np.abs(clipped.numpy() - bounded).max() < 1e-6
