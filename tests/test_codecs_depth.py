"""Heatmap targets and the cube codec: conventions, inverses, numpy/torch agreement."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from crop_reference import joints_crop, normalized_joints
from handpose.codecs import cube as cube_codec
from handpose.codecs.heatmap import (
    crossinfonet_heatmaps,
    gaussian_heatmaps,
    heatmap_argmax,
    pixels_to_uv,
    uv_to_pixels,
)
from handpose.geometry import CAMERAS, CubeCrop


def test_pixel_convention_edges_and_centres():
    assert uv_to_pixels(-1.0, 24) == -0.5  # left edge of pixel 0
    assert uv_to_pixels(1.0, 24) == 23.5  # right edge of the last pixel
    assert pixels_to_uv(uv_to_pixels(0.3, 7), 7) == pytest.approx(0.3)


def test_gaussian_peak_at_joint_any_resolution():
    for size in (8, 24, 64):
        # Put the joints exactly on pixel centres so the peak pixel is 1.
        pix = np.array([[[3.0, 5.0], [0.0, size - 1.0]]])
        uv = pixels_to_uv(pix, size)
        hm = gaussian_heatmaps(uv, size, sigma=1.5)
        assert hm.shape == (1, 2, size, size) and hm.dtype == np.float32
        assert hm[0, 0, 5, 3] == pytest.approx(1.0)
        assert hm[0, 1, size - 1, 0] == pytest.approx(1.0)
        # One pixel away along u: exp(-1 / (2 sigma^2)).
        assert hm[0, 0, 5, 4] == pytest.approx(np.exp(-1 / (2 * 1.5**2)), rel=1e-5)
        decoded, peak = heatmap_argmax(hm)
        np.testing.assert_allclose(decoded, uv, atol=1e-6)
        np.testing.assert_allclose(peak, 1.0, atol=1e-6)


def test_gaussian_torch_matches_numpy_and_nan_gives_zeros():
    uv = np.array([[[0.1, -0.4], [np.nan, 0.0]]], dtype=np.float32)
    hm_np = gaussian_heatmaps(uv, 16, 2.0)
    hm_t = gaussian_heatmaps(torch.from_numpy(uv), 16, 2.0)
    assert isinstance(hm_t, torch.Tensor)
    np.testing.assert_allclose(hm_t.numpy(), hm_np, atol=1e-6)
    assert hm_np[0, 1].max() == 0.0


def test_crossinfonet_target_matches_opencv_blur():
    size = 24
    pix = np.array([[[7.2, 10.9], [0.0, 23.0]]])  # second joint in a corner: border handling
    hm = crossinfonet_heatmaps(pixels_to_uv(pix, size), size)
    for j, (x, y) in enumerate(np.round(pix[0]).astype(int)):
        onehot = np.zeros((size, size), np.float32)
        onehot[y, x] = 1.0
        ref = cv2.GaussianBlur(onehot, (3, 3), 0)
        ref /= ref.max()
        np.testing.assert_allclose(hm[0, j], ref, atol=1e-6)
    hm_t = crossinfonet_heatmaps(torch.tensor(pixels_to_uv(pix, size), dtype=torch.float32), size)
    np.testing.assert_allclose(hm_t.numpy(), hm, atol=1e-6)
    outside = crossinfonet_heatmaps(np.array([[[1.5, 0.0]]]), size)
    assert outside.max() == 0.0


def test_argmax_torch_and_subpixel():
    size = 32
    uv = np.array([[[0.23, -0.61], [-0.7, 0.45]]], dtype=np.float32)
    hm = gaussian_heatmaps(uv, size, sigma=2.0)
    coarse, _ = heatmap_argmax(hm)
    fine, _ = heatmap_argmax(hm, subpixel=True)
    t_fine, _ = heatmap_argmax(torch.from_numpy(hm), subpixel=True)
    np.testing.assert_allclose(t_fine.numpy(), fine, atol=1e-6)
    px = 2.0 / size
    assert np.abs(coarse - uv).max() <= 0.5 * px + 1e-6
    assert np.abs(fine - uv).max() <= np.abs(coarse - uv).max() + 1e-6


def _random_geometry(rng: np.random.Generator, batch: int = 5, joints: int = 14):
    cam = CAMERAS["nyu"]
    center = np.stack([rng.uniform(-100, 100, batch), rng.uniform(-80, 80, batch), rng.uniform(500, 900, batch)], 1)
    xyz = center[:, None, :] + rng.normal(0, 50, (batch, joints, 3))
    cube = np.stack([rng.uniform(150, 300, batch)] * 3, 1)
    rot = rng.uniform(-180, 180, batch)
    camera = np.tile([cam.fx, cam.fy, cam.cx, cam.cy], (batch, 1))
    return cam, xyz, center, cube, rot, camera


def test_cube_codec_matches_cubecrop_and_inverts(rng):
    cam, xyz, center, cube, rot, camera = _random_geometry(rng)
    norm = cube_codec.encode(xyz, center, cube, rot, camera)
    for b in range(len(xyz)):
        crop = CubeCrop.around(center[b], cube[b, 0], cam, 96, rot[b])
        np.testing.assert_allclose(norm[b], normalized_joints(crop, xyz[b]), atol=1e-9)
    back = cube_codec.decode(norm, center, cube, rot, camera)
    assert np.abs(back - xyz).max() < 1e-6


def test_cube_codec_torch_batches(rng):
    _, xyz, center, cube, rot, camera = _random_geometry(rng)
    args = [torch.tensor(a, dtype=torch.float64) for a in (center, cube, rot, camera)]
    norm_t = cube_codec.encode(torch.tensor(xyz), *args)
    assert isinstance(norm_t, torch.Tensor)
    np.testing.assert_allclose(norm_t.numpy(), cube_codec.encode(xyz, center, cube, rot, camera), atol=1e-9)
    back = cube_codec.decode(norm_t.float(), *args)
    assert back.dtype == torch.float32
    assert (back.double() - torch.tensor(xyz)).abs().max() < 0.05  # float32 round trip at ~1 m


def test_crop_codec_matches_cubecrop_pixels(rng):
    cam, xyz, center, cube, rot, camera = _random_geometry(rng)
    size = 64
    crop_norm = cube_codec.encode_crop(xyz, center, cube, rot, camera)
    for b in range(len(xyz)):
        crop = CubeCrop.around(center[b], cube[b, 0], cam, size, rot[b])
        np.testing.assert_allclose(crop_norm[b], joints_crop(crop, xyz[b]), atol=1e-9)
    back = cube_codec.decode_crop(crop_norm, center, cube, rot, camera)
    assert np.abs(back - xyz).max() < 1e-6


def test_depth_encoding_by_hand():
    # Centre 500 mm, cube depth 200 mm: [400, 600] maps to [-1, 1]; 0 is missing; beyond is background.
    depth = np.array([[0.0, 399.0, 500.0, 599.0, 601.0]])
    assert cube_codec.encode_depth(depth, 500.0, 100.0)[0].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.99, 1.0])


def test_one_missing_depth_policy_not_finite_or_not_positive():
    depth = np.array([np.nan, np.inf, -np.inf, -5.0, 0.0, 450.0, 5e-7], dtype=np.float32)
    assert cube_codec.missing_depth(depth).tolist() == [True, True, True, True, True, False, False]
    # A centre so near that a depth of 0 would fall inside the window: still missing.
    out = cube_codec.encode_depth(depth, 60.0, 100.0)
    assert np.isfinite(out).all()
    assert out.tolist()[:5] == [1.0] * 5
    assert out[6] == pytest.approx((5e-7 - 60.0) / 100.0)
    # uint16 sensors store missing as 0.
    assert cube_codec.encode_depth(np.array([0, 520], dtype=np.uint16), 500.0, 100.0).tolist() == [
        1.0,
        pytest.approx(0.2),
    ]
