"""RGB crop transform: mirroring, crops, augmentation consistency, 2.5D targets and their inverses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fixtures import rgb_formats as fx
from handpose import skeleton
from handpose.batch import RGBBatch
from handpose.codecs import uvz as uvz_codec
from handpose.codecs.heatmap import pixels_to_uv, uv_to_pixels
from handpose.datasets.base import Sample
from handpose.errors import HandposeError
from handpose.geometry import Camera, xyz_to_uvd
from handpose.transforms.rgb import IMAGENET_MEAN, IMAGENET_STD, RGBCropTransform, collate, mirror_sample, shift_hue

CAMERA = Camera(600.0, 598.0, 160.0, 118.0, 320, 240, "test")


def _sample(rng: np.random.Generator, handedness: str = "right", skel: str = "canonical21") -> Sample:
    hand = fx.random_hand(rng, CAMERA)
    image = rng.integers(0, 40, size=(240, 320, 3), dtype=np.uint8)
    uvd = xyz_to_uvd(hand, CAMERA)
    fx.draw_hand(image, uvd[:, :2])
    joints = skeleton.get("canonical21").convert(hand, skel)
    return Sample(
        image=image,
        joints_xyz=joints,
        joints_uvd=xyz_to_uvd(joints, CAMERA),
        visibility=np.ones(len(joints), dtype=bool),
        camera=CAMERA,
        skeleton=skel,
        frame_id="synthetic",
        modality="rgb",
        handedness=handedness,
    )


def _pixels(out: dict[str, np.ndarray]) -> np.ndarray:
    """The crop back as 0-255 RGB (H, W, 3)."""
    return (out["image"].transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN) * 255.0


def test_mirroring_twice_is_identity(rng):
    s = _sample(rng, "left")
    s.extras["mask"] = np.zeros(s.image.shape[:2], dtype=bool)
    s.extras["mask"][10:20, 5:9] = True
    once = mirror_sample(s)
    assert once.handedness == "right"
    np.testing.assert_allclose(once.joints_uvd[:, :2], xyz_to_uvd(once.joints_xyz, once.camera)[:, :2], atol=1e-9)
    twice = mirror_sample(once)
    np.testing.assert_array_equal(twice.image, s.image)
    np.testing.assert_array_equal(twice.extras["mask"], s.extras["mask"])
    np.testing.assert_allclose(twice.joints_xyz, s.joints_xyz, atol=0)
    np.testing.assert_allclose(twice.joints_uvd, s.joints_uvd, atol=1e-12)
    assert twice.camera == s.camera and twice.handedness == "left"


def test_output_keys_shapes_and_exact_inverse(rng):
    s = _sample(rng)
    out = RGBCropTransform(out_size=128)(s)
    assert set(out) == set(RGBBatch.__annotations__)
    assert out["image"].shape == (3, 128, 128) and out["image"].dtype == np.float32
    assert out["joints"].shape == out["joints_crop"].shape == out["joints_rel"].shape == (21, 3)
    assert out["K_crop"].shape == (3, 3) and out["root_xyz"].shape == (3,) and out["scale"].shape == ()
    assert out["visible"].dtype == bool and out["visible"].all()
    # Without augmentation the camera-space joints pass through, and both encodings decode back to them.
    np.testing.assert_allclose(out["joints_xyz"], s.joints_xyz, atol=0.01)
    k = out["K_crop"].astype(np.float64)
    decoded = uvz_codec.decode_uvz(out["joints_crop"].astype(np.float64), k, 128, out["root_xyz"][2], out["scale"])
    assert np.abs(decoded - s.joints_xyz).max() < 0.01
    rel = uvz_codec.decode_rel(out["joints_rel"].astype(np.float64), out["root_xyz"], out["scale"])
    assert np.abs(rel - s.joints_xyz).max() < 0.01
    # Every keypoint lies inside the crop (1.2x margin) and the crop shows the drawn joints.
    assert np.abs(out["joints_crop"][:, :2]).max() < 1.0
    pix = _pixels(out)
    uv = uv_to_pixels(out["joints_crop"][:, :2], 128)
    bright = [pix[round(v), round(u)].mean() for u, v in uv]
    assert np.mean(bright) > 150


def test_native_order_maps_to_canonical(rng):
    s = _sample(rng, skel="rhd21")
    out = RGBCropTransform(out_size=64)(s)
    np.testing.assert_allclose(out["joints_xyz"], skeleton.get("rhd21").to_canonical(s.joints_xyz), atol=0.01)
    native = RGBCropTransform(out_size=64, target_skeleton=None)(s)
    np.testing.assert_allclose(native["joints_xyz"], s.joints_xyz, atol=0.01)


def test_left_hand_crop_equals_crop_of_mirrored_image(rng):
    left = _sample(rng, "left")
    t = RGBCropTransform(out_size=96)
    a = t(left)
    b = t(mirror_sample(left))  # already a right hand: not mirrored again
    for key in ("joints_xyz", "joints_crop", "K_crop", "root_xyz"):
        np.testing.assert_allclose(a[key], b[key], atol=1e-3)
    # Same pixels up to OpenCV's fixed-point bilinear rounding (one grey level = 0.0175 after normalising).
    assert np.abs(a["image"] - b["image"]).max() < 0.04
    # The mirrored hand is a right hand: x is negated relative to the input.
    np.testing.assert_allclose(a["joints_xyz"][:, 0], -left.joints_xyz[:, 0], atol=0.01)
    kept = RGBCropTransform(out_size=96, mirror_left=False)(left)
    np.testing.assert_allclose(kept["joints_xyz"], left.joints_xyz, atol=0.01)


@pytest.mark.parametrize("handedness", ["right", "left"])
def test_augmentation_keeps_image_and_3d_consistent(rng, handedness):
    s = _sample(rng, handedness)
    t = RGBCropTransform(out_size=128, augment=True, hue=0.0)
    for _ in range(4):
        out = t(s, rng)
        k = out["K_crop"].astype(np.float64)
        xyz = out["joints_xyz"].astype(np.float64)
        # Targets agree with the crop camera ...
        uv = xyz_to_uvd(xyz, Camera.from_K(k))[:, :2]
        np.testing.assert_allclose(pixels_to_uv(uv, 128), out["joints_crop"][:, :2], atol=1e-4)
        decoded = uvz_codec.decode_uvz(out["joints_crop"].astype(np.float64), k, 128, out["root_xyz"][2], out["scale"])
        assert np.abs(decoded - xyz).max() < 0.01
        # ... depth and bone-length scale are those of the input hand ...
        np.testing.assert_allclose(xyz[:, 2], s.joints_xyz[:, 2], atol=1e-3)
        # ... and the drawn joints are where the targets say (rotation, scale, shift and mirroring).
        pix = _pixels(out)
        inside = np.abs(out["joints_crop"][:, :2]).max(-1) < 0.95
        pu = uv_to_pixels(out["joints_crop"][inside, :2], 128)
        bright = [pix[round(v), round(u)].mean() for u, v in pu]
        assert np.mean(bright) > 120


def test_augmentation_needs_rng_and_is_reproducible(rng):
    s = _sample(rng)
    t = RGBCropTransform(out_size=64, augment=True)
    with pytest.raises(HandposeError, match="random generator"):
        t(s)
    a = t(s, np.random.default_rng(3))
    b = t(s, np.random.default_rng(3))
    np.testing.assert_array_equal(a["image"], b["image"])


def test_hue_shift(rng):
    img = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    assert shift_hue(img, 0.0) is img
    shifted = shift_hue(img, 0.1)
    assert shifted.shape == img.shape and shifted.dtype == np.uint8 and np.any(shifted != img)


def test_crop_from_mask_box(rng):
    s = _sample(rng)
    mask = np.zeros(s.image.shape[:2], dtype=bool)
    mask[100:140, 150:190] = True
    s.extras["mask"] = mask
    t = RGBCropTransform(out_size=64, crop_from="mask")
    centre, side = t.hand_box(s.joints_uvd[:, :2], s.visibility, mask)
    np.testing.assert_allclose(centre, [169.5, 119.5])
    assert side == pytest.approx(1.2 * 39)
    # No visible keypoint: the mask box is the fallback; neither -> one clear error.
    hidden = replace(s, visibility=np.zeros(21, dtype=bool))
    RGBCropTransform(out_size=64)(hidden)
    hidden.extras.pop("mask")
    with pytest.raises(HandposeError, match="cannot place the crop"):
        RGBCropTransform(out_size=64)(hidden)


def test_fingertip_only_samples_and_collate(rng):
    s = _sample(rng, skel="dexter5")
    out = RGBCropTransform(out_size=64)(s)
    assert out["visible"].sum() == 5 and np.isnan(out["root_xyz"]).all()
    fingertip_rows = [4, 8, 12, 16, 20]
    assert np.isfinite(out["joints_crop"][fingertip_rows, :2]).all()
    batch = collate([RGBCropTransform(out_size=32)(_sample(rng)) for _ in range(3)])
    assert batch["image"].shape == (3, 3, 32, 32) and batch["K_crop"].shape == (3, 3, 3)


def test_rejects_bad_images_and_options(rng):
    s = _sample(rng)
    with pytest.raises(HandposeError, match="uint8"):
        RGBCropTransform()(replace(s, image=s.image.astype(np.float32)))
    with pytest.raises(HandposeError, match="output_space"):
        RGBCropTransform(output_space="cube")


def test_lookup_normalisation_matches_the_formula(rng):
    from handpose.transforms.rgb import normalise_image

    crop = rng.integers(0, 256, size=(16, 12, 3), dtype=np.uint8)
    expected = ((crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    np.testing.assert_allclose(normalise_image(crop), expected, atol=1e-6)


def test_rotation_is_a_camera_roll_and_the_box_follows_the_rotated_hand(rng):
    camera = Camera(500.0, 500.0, 150.0, 130.0, 320, 240, "square-pixels")
    hand = fx.random_hand(rng, camera)
    s = Sample(
        image=np.zeros((240, 320, 3), np.uint8),
        joints_xyz=hand,
        joints_uvd=xyz_to_uvd(hand, camera),
        visibility=np.ones(21, dtype=bool),
        camera=camera,
        skeleton="canonical21",
        frame_id="roll",
        modality="rgb",
        handedness="right",
    )
    t = RGBCropTransform(out_size=64, augment=True, shift_px=0, center_sigma_px=0.0, hue=0.0)
    dist = np.linalg.norm(hand[:, None] - hand[None], axis=-1)
    for _ in range(5):
        out = t(s, rng)
        xyz = out["joints_xyz"].astype(np.float64)
        # A roll about the optical axis: depths and every joint-to-joint distance unchanged.
        np.testing.assert_allclose(xyz[:, 2], hand[:, 2], atol=1e-3)
        np.testing.assert_allclose(np.linalg.norm(xyz[:, None] - xyz[None], axis=-1), dist, atol=0.01)
        # Box around the rotated keypoints with margin >= 1.2: every joint inside the crop.
        assert np.abs(out["joints_crop"][:, :2]).max() <= 1.0 / 1.2 + 1e-6
