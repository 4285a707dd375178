"""2.5D / root-relative codecs and bone vectors: exact inverses in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose import skeleton
from handpose.codecs import bones as bones_codec
from handpose.codecs import decode_batch
from handpose.codecs import uvz as uvz_codec
from handpose.codecs.heatmap import pixels_to_uv, uv_to_pixels
from handpose.errors import HandposeError


def _hand(rng: np.random.Generator, batch: int = 4) -> np.ndarray:
    """Plausible canonical21 hands ~500 mm in front of the camera (random finger chains)."""
    skel = skeleton.get("canonical21")
    joints = np.zeros((batch, 21, 3))
    joints[:, 0] = rng.uniform([-80, -60, 400], [80, 60, 700], size=(batch, 3))
    for j in skel.topological_order:
        p = skel.parents[j]
        if p >= 0:
            joints[:, j] = joints[:, p] + rng.normal(0, 1, (batch, 3)) * 15 + np.array([0, -20, 0])
    return joints


def _crop_K(batch: int, rng: np.random.Generator) -> np.ndarray:
    K = np.tile(np.eye(3), (batch, 1, 1))
    K[:, 0, 0] = rng.uniform(300, 900, batch)
    K[:, 1, 1] = K[:, 0, 0] * rng.uniform(0.95, 1.05, batch)
    K[:, 0, 2] = rng.uniform(100, 150, batch)
    K[:, 1, 2] = rng.uniform(100, 150, batch)
    return K


@pytest.mark.parametrize("name", ["canonical21", "rhd21", "stb21", "nyu14", "icvl16"])
def test_bones_round_trip_numpy(rng, name):
    skel = skeleton.get(name)
    joints = rng.normal(0, 50, (3, skel.num_joints, 3)) + np.array([0, 0, 500])
    b = bones_codec.joints_to_bones(joints, skel)
    assert b.shape == (3, skel.num_joints - 1, 3)
    root = skel.parents.index(-1)
    back = bones_codec.bones_to_joints(b, skel, root_xyz=joints[:, root])
    assert np.abs(back - joints).max() < 0.01


def test_bones_are_child_minus_parent(rng):
    skel = skeleton.get("canonical21")
    joints = _hand(rng, 1)[0]
    b = bones_codec.joints_to_bones(joints, skel)
    assert len(skel.bones) == 20
    for k, (p, c) in enumerate(skel.bones):
        np.testing.assert_allclose(b[k], joints[c] - joints[p])
    # Without a root position the wrist sits at the origin.
    np.testing.assert_allclose(bones_codec.bones_to_joints(b, skel), joints - joints[0], atol=1e-9)


def test_bones_torch_gradient_and_anchor(rng):
    skel = skeleton.get("canonical21")
    joints = torch.tensor(_hand(rng, 2), dtype=torch.float32)
    b = bones_codec.joints_to_bones(joints, skel).requires_grad_(True)
    root = joints[:, skel.root_index]
    back = bones_codec.bones_to_joints(b, skel, root_xyz=root, anchor_index=skel.root_index)
    assert (back - joints).abs().max().item() < 0.01
    back.sum().backward()
    assert b.grad is not None and torch.isfinite(b.grad).all()


def test_bones_reject_wrong_shape_and_forest():
    with pytest.raises(HandposeError, match="expected"):
        bones_codec.joints_to_bones(np.zeros((20, 3)), "canonical21")
    with pytest.raises(HandposeError, match="kinematic roots"):
        bones_codec.bones_to_joints(np.zeros((0, 3)), "dexter5")


def test_uvz_round_trip_numpy(rng):
    joints = _hand(rng, 5)
    K = _crop_K(5, rng)
    uvz, root, scale = uvz_codec.encode_uvz(joints, K, 256, "canonical21")
    assert uvz.shape == (5, 21, 3)
    skel = skeleton.get("canonical21")
    np.testing.assert_allclose(root, joints[:, skel.root_index])
    np.testing.assert_allclose(uvz[:, skel.root_index, 2], 0.0, atol=1e-12)
    mcp, pip = skel.scale_bone_indices
    np.testing.assert_allclose(scale, np.linalg.norm(joints[:, mcp] - joints[:, pip], axis=-1))
    back = uvz_codec.decode_uvz(uvz, K, 256, root[:, 2], scale)
    assert np.abs(back - joints).max() < 0.01


def test_uvz_round_trip_torch_float32(rng):
    joints = _hand(rng, 3)
    K = _crop_K(3, rng)
    jt, Kt = torch.tensor(joints, dtype=torch.float32), torch.tensor(K, dtype=torch.float32)
    uvz, root, scale = uvz_codec.encode_uvz(jt, Kt, 128, "canonical21")
    back = uvz_codec.decode_uvz(uvz, Kt, 128, root[:, 2], scale)
    assert (back.double() - torch.tensor(joints)).abs().max().item() < 0.01
    # Same numbers as numpy.
    uvz_np, _, _ = uvz_codec.encode_uvz(joints, K, 128, "canonical21")
    np.testing.assert_allclose(uvz.numpy(), uvz_np, atol=1e-4)


def test_unit_range_is_crop_edges():
    assert pixels_to_uv(np.array(-0.5), 64) == -1.0
    assert pixels_to_uv(np.array(63.5), 64) == 1.0
    assert uv_to_pixels(np.array(0.0), 64) == 31.5


def test_rel_round_trip_and_batch_decode(rng):
    joints = _hand(rng, 2)
    K = _crop_K(2, rng)
    rel, root, scale = uvz_codec.encode_rel(joints, "canonical21")
    np.testing.assert_allclose(uvz_codec.decode_rel(rel, root, scale), joints, atol=1e-9)
    uvz, _, _ = uvz_codec.encode_uvz(joints, K, 64, "canonical21")
    batch = {"root_xyz": root, "scale": scale, "K_crop": K, "image": np.zeros((2, 3, 64, 64))}
    assert np.abs(decode_batch(uvz, batch, "uvz") - joints).max() < 0.01
    assert np.abs(decode_batch(rel, batch, "rel") - joints).max() < 0.01
    with pytest.raises(HandposeError, match="needs center_xyz"):
        decode_batch(rel, batch, "cube")


def test_uvz_rejects_skeleton_without_scale_bone(rng):
    with pytest.raises(HandposeError, match="scale bone"):
        uvz_codec.encode_uvz(np.ones((5, 3)), np.eye(3), 64, "dexter5")


def test_decoded_predictions_score_the_hand_computed_auc(rng):
    """2.5D predictions 30 mm off every joint: the RHD/STB PCK curve is a step at 30 mm.

    Thresholds are linspace(0, 50, 20) (spacing d = 50/19). PCK is 0 up to 28.95 mm and 1 from 31.58 mm,
    so trapezoids give 7.5 d of area: AUC(0-50) = 7.5/19, and over the 12 thresholds 21.05-50 mm
    ("AUC 20-50") 7.5/11.
    """
    from handpose.metrics import rgb_protocol

    gt = _hand(rng, 6)
    K = _crop_K(6, rng)
    offset = rng.normal(size=(6, 21, 3))
    offset *= 30.0 / np.linalg.norm(offset, axis=-1, keepdims=True)
    # Predictions go through the codec: encode (with the GT root depth and scale) and decode back.
    _, root, scale = uvz_codec.encode_uvz(gt, K, 256, "canonical21")
    pred_uv = uvz_codec.encode_uvz(gt + offset, K, 256, "canonical21")[0][..., :2]
    pred_z = ((gt + offset)[..., 2] - root[:, None, 2]) / scale[:, None]
    pred_uvz = np.concatenate([pred_uv, pred_z[..., None]], axis=-1)
    pred = uvz_codec.decode_uvz(pred_uvz, K, 256, root[:, 2], scale)
    result = rgb_protocol(pred, gt)
    assert result.mean_epe_mm == pytest.approx(30.0, abs=1e-6)
    assert result.auc_0_50 == pytest.approx(7.5 / 19, abs=1e-9)
    assert result.auc_20_50 == pytest.approx(7.5 / 11, abs=1e-9)
    # Visible-only scoring (Zimmermann) ignores hidden joints; scoring all joints (Learnable Groups) does not.
    wild = pred.copy()
    wild[:, 0] += 500.0
    visible = np.ones((6, 21), dtype=bool)
    visible[:, 0] = False
    assert rgb_protocol(wild, gt, visible).auc_20_50 == pytest.approx(7.5 / 11, abs=1e-9)
    assert rgb_protocol(wild, gt).auc_20_50 < 7.5 / 11


def test_root_depth_follows_from_the_2p5d_joints_alone(rng):
    skel = skeleton.get("rhd21")
    xyz = rng.normal(0, 40, (6, 21, 3)) + np.array([30.0, -20.0, 600.0])
    K = np.broadcast_to(np.array([[300.0, 0.0, 128.0], [0.0, 310.0, 120.0], [0.0, 0.0, 1.0]]), (6, 3, 3))
    uvz, root, scale = uvz_codec.encode_uvz(xyz, K, 256, skel)
    assert np.allclose(uvz_codec.recover_root_depth(uvz, K, 256, skel) * scale, root[:, 2], atol=1e-6)
    assert np.allclose(uvz_codec.lift_uvz(uvz[0], K[0], 256, skel, float(scale[0])), xyz[0], atol=1e-6)
    # A hand twice the size at twice the distance looks the same: the assumed scale sets the size.
    assert np.allclose(uvz_codec.lift_uvz(uvz[0], K[0], 256, skel, 2 * float(scale[0])), 2 * xyz[0], atol=1e-6)
    end_on = uvz.copy()
    a, b = skel.scale_bone_indices
    end_on[0, b, :2] = end_on[0, a, :2]
    with pytest.raises(HandposeError, match="single pixel"):
        uvz_codec.recover_root_depth(end_on[0], K[0], 256, skel)


def test_rgb_targets_by_output_space(rng):
    joints = _hand(rng, 1)[0]
    K = _crop_K(1, rng)[0]
    uvz = uvz_codec.encode_targets(joints, K, 64, "canonical21", "uvz")
    rel = uvz_codec.encode_targets(joints, K, 64, "canonical21", "rel")
    np.testing.assert_array_equal(uvz["joints"], uvz["joints_crop"])
    np.testing.assert_array_equal(rel["joints"], rel["joints_rel"])
    np.testing.assert_allclose(uvz_codec.decode_rel(rel["joints"], rel["root_xyz"], rel["scale"]), joints, atol=1e-9)
    # Fingertips only: no scale bone, so crop u, v alone (the same pixels the projection gives).
    tips = joints[:5]
    only_uv = uvz_codec.encode_targets(tips, K, 64, "dexter5", "uvz")
    pix = tips[:, :2] / tips[:, 2:] * K[[0, 1], [0, 1]] + K[[0, 1], [2, 2]]
    np.testing.assert_allclose(uv_to_pixels(only_uv["joints_crop"][:, :2], 64), pix, atol=1e-9)
    assert np.isnan(only_uv["joints_crop"][:, 2]).all() and np.isnan(only_uv["joints_rel"]).all()
    with pytest.raises(HandposeError, match="not 'cube'"):
        uvz_codec.encode_targets(joints, K, 64, "canonical21", "cube")
