"""Depth crops: geometry agrees with the warped pixels, augmentation is invertible, centres work."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from crop_reference import joints_crop, normalized_joints
from handpose.codecs import cube as cube_codec
from handpose.codecs.heatmap import uv_to_pixels
from handpose.datasets.base import Sample
from handpose.datasets.centers import center_of_mass, detect_center, joint_center, refine_center
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, CubeCrop
from handpose.transforms.depth import DepthCropTransform, collate, default_cube

CAM = CAMERAS["nyu"]


def _sample(rng: np.random.Generator, center=(30.0, -20.0, 650.0), n_joints: int = 14, blob: bool = True) -> Sample:
    """A depth frame with a 5x5 square at every joint at that joint's depth, on a far background."""
    xyz = np.asarray(center) + rng.normal(0, 35, (n_joints, 3))
    uvd = CAM.xyz_to_uvd(xyz)
    depth = np.zeros((480, 640), np.float32)
    depth[400:, :] = 1400.0  # a table far behind the hand
    if blob:
        for u, v, d in uvd:
            ui, vi = round(float(u)), round(float(v))
            depth[vi - 2 : vi + 3, ui - 2 : ui + 3] = d
    return Sample(
        image=depth,
        joints_xyz=xyz,
        joints_uvd=uvd,
        visibility=np.ones(n_joints, bool),
        camera=CAM,
        skeleton="nyu14",
        frame_id="synthetic/0",
        modality="depth",
    )


KEYS = {"image", "joints", "joints_crop", "visible", "center_xyz", "cube", "rotation_deg", "camera", "joints_xyz"}


def test_output_keys_shapes_and_ranges(rng):
    out = DepthCropTransform(out_size=96, cube=250.0)(_sample(rng))
    assert set(out) == KEYS
    assert out["image"].shape == (1, 96, 96) and out["image"].dtype == np.float32
    assert out["joints"].shape == (14, 3) and out["joints_crop"].shape == (14, 3)
    assert out["visible"].dtype == bool and out["rotation_deg"].shape == ()
    assert out["image"].min() >= -1 and out["image"].max() == 1.0
    assert (out["image"] < 1).any()  # the hand is there
    np.testing.assert_array_equal(out["cube"], [250, 250, 250])


@pytest.mark.parametrize("seed", range(8))
def test_crop_uncrop_round_trip_with_augmentation(seed):
    rng = np.random.default_rng(seed)
    sample = _sample(rng)
    tf = DepthCropTransform(out_size=96, cube=(250.0, 300.0), augment=True, center="com")
    rows = [tf(sample, rng) for _ in range(6)]
    batch = collate(rows)
    geometry = [batch[k].astype(np.float64) for k in ("center_xyz", "cube", "rotation_deg", "camera")]
    back = cube_codec.decode(batch["joints"].astype(np.float64), *geometry)
    assert np.abs(back - sample.joints_xyz).max() < 0.01
    back_crop = cube_codec.decode_crop(batch["joints_crop"].astype(np.float64), *geometry)
    assert np.abs(back_crop - sample.joints_xyz).max() < 0.01


def test_warped_pixels_sit_under_the_joints():
    """Every joint's square shows up in the crop at joints_crop, at the joint's normalised depth."""
    rng = np.random.default_rng(3)
    sample = _sample(rng)
    tf = DepthCropTransform(out_size=128, cube=300.0, augment=True, center="gt")
    checked = 0
    for _ in range(12):
        out = tf(sample, rng)
        px = uv_to_pixels(out["joints_crop"][:, :2], 128)
        for j, (x, y) in enumerate(np.round(px).astype(int)):
            if not (0 <= x < 128 and 0 <= y < 128):
                continue
            value = out["image"][0, y, x]
            # Squares can overlap; the pixel holds some joint's depth, most often this one's.
            assert value < 1.0
            checked += abs(value - out["joints_crop"][j, 2]) < 1e-3
    assert checked > 0.8 * 12 * 14


def test_nearest_neighbour_keeps_depth_values():
    rng = np.random.default_rng(1)
    sample = _sample(rng)
    out = DepthCropTransform(out_size=96, cube=400.0)(sample)
    values = out["image"][out["image"] < 1]
    normalised_inputs = (np.unique(sample.image[sample.image > 0]) - out["center_xyz"][2]) / 200.0
    # Every crop value is one of the input depths (no interpolation between hand and background).
    assert np.abs(values[:, None] - normalised_inputs[None, :]).min(axis=1).max() < 1e-5


def test_centre_modes(rng):
    sample = _sample(rng)
    gt = DepthCropTransform(center="gt")(sample)["center_xyz"]
    np.testing.assert_allclose(gt, sample.joints_xyz[13], rtol=1e-6)  # nyu14 root = palm
    com = DepthCropTransform(center="com")(sample)["center_xyz"]
    det = DepthCropTransform(center="detect")(sample)["center_xyz"]
    mean = sample.joints_xyz.mean(axis=0)
    assert np.linalg.norm(com - mean) < 40 and np.linalg.norm(det - mean) < 40
    with pytest.raises(HandposeError, match="no centre"):
        DepthCropTransform(center="given")(sample)
    sample.center_xyz = np.array([1.0, 2.0, 700.0])
    np.testing.assert_allclose(DepthCropTransform(center="given")(sample)["center_xyz"], [1, 2, 700])


def test_center_helpers():
    depth = np.zeros((20, 30), np.float32)
    depth[5:8, 10:14] = 500.0
    np.testing.assert_allclose(center_of_mass(depth), [11.5, 6.0, 500.0])
    assert center_of_mass(np.zeros((4, 4), np.float32)) is None
    cam = CAMERAS["msra"]
    start = cam.uvd_to_xyz(np.array([13.0, 7.0, 520.0]))
    big = np.zeros((240, 320), np.float32)
    big[100:130, 150:170] = 600.0
    refined = refine_center(big, cam, cam.uvd_to_xyz(np.array([155.0, 110.0, 610.0])), cube=200.0)
    np.testing.assert_allclose(cam.xyz_to_uvd(refined), [159.5, 114.5, 600.0], atol=1e-6)
    np.testing.assert_allclose(detect_center(big, cam, 200.0), refined, atol=1e-6)
    with pytest.raises(HandposeError, match="no valid depth"):
        detect_center(np.zeros((10, 10), np.float32), cam)
    joints = np.array([[np.nan, 0, 0], [1.0, 2, 3], [3.0, 2, 1]])
    np.testing.assert_allclose(joint_center(joints, 0), [2, 2, 2])
    assert start[2] == 520.0


def test_nan_joints_are_invisible_and_defaults(rng):
    sample = _sample(rng)
    sample.joints_xyz[3] = np.nan
    out = DepthCropTransform(center="com")(sample)
    assert not out["visible"][3] and out["visible"].sum() == 13
    assert default_cube("nyu", "train") == (250.0, 300.0) and default_cube("msra", "test") == 175.0
    tf = DepthCropTransform.for_dataset("msra", "train")
    assert tf.augment and tf.cube_range == (150.0, 200.0)
    sizes = {tf.sample_cube(rng) for _ in range(200)}
    assert sizes == {150.0, 160.0, 170.0, 180.0, 190.0, 200.0}


def test_bad_arguments():
    with pytest.raises(HandposeError):
        DepthCropTransform(center="middle")  # type: ignore[arg-type]
    with pytest.raises(HandposeError):
        DepthCropTransform(cube=(300.0, 200.0))
    with pytest.raises(HandposeError):
        DepthCropTransform(augment_modes=("flip",))


def test_targets_equal_cubecrop_conventions():
    rng = np.random.default_rng(7)
    sample = _sample(rng)
    tf = DepthCropTransform(out_size=64, cube=(200.0, 300.0), augment=True, cube_step=0)
    for _ in range(10):
        out = tf(sample, rng)
        crop = CubeCrop.around(
            out["center_xyz"].astype(float), tuple(out["cube"].astype(float)), CAM, 64, float(out["rotation_deg"])
        )
        np.testing.assert_allclose(out["joints"], normalized_joints(crop, sample.joints_xyz), atol=2e-5)
        np.testing.assert_allclose(out["joints_crop"], joints_crop(crop, sample.joints_xyz), atol=2e-5)
        warped = cv2.warpAffine(sample.image, tf.warp_matrix(crop), (64, 64), flags=cv2.INTER_NEAREST)
        z0, half = crop.center_xyz[2], crop.cube[2] / 2
        expected = np.where((warped > 0) & (np.abs(warped - z0) <= half), (warped - z0) / half, 1.0)
        np.testing.assert_allclose(out["image"][0], expected, atol=1e-6)


def test_missing_depth_of_any_kind_is_background(rng):
    sample = _sample(rng)
    holes = np.zeros(sample.image.shape, bool)
    u, v, _ = CAM.xyz_to_uvd(sample.joints_xyz[5])
    holes[round(v) - 2 : round(v) + 3, round(u) - 2 : round(u) + 3] = True  # a joint's blob goes missing
    tf = DepthCropTransform(out_size=64, center="gt")
    reference = tf(replace(sample, image=np.where(holes, 0.0, sample.image).astype(np.float32)))
    assert (reference["image"] == 1.0).sum() > (tf(sample)["image"] == 1.0).sum()  # the hole is in the crop
    for missing in (np.nan, np.inf, -np.inf, -3.0):
        out = tf(replace(sample, image=np.where(holes, missing, sample.image).astype(np.float32)))
        assert np.isfinite(out["image"]).all(), missing
        np.testing.assert_array_equal(out["image"], reference["image"])


def test_estimator_treats_nan_depth_as_missing():
    # User arrays reach the network through the same transform and codec as training crops.
    from handpose.datasets import open_dataset
    from handpose.inference import Estimator
    from training_helpers import tiny_run

    sample = open_dataset("synthetic", tiny_run().test_data, "test")[0]
    est = Estimator.load(tiny_run().package)
    depth = sample.image.astype(np.float32)
    with_nan = np.where(depth > 0, depth, np.nan).astype(np.float32)
    with_nan[0, 0] = -np.inf
    centre = sample.joints_xyz[9]
    expected = est.predict(depth, camera="nyu", center=centre).xyz
    got = est.predict(with_nan, camera="nyu", center=centre).xyz
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-5)
