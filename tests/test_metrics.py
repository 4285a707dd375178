"""handpose.metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes

from handpose import metrics
from handpose.errors import HandposeError

# Two frames, two joints; the ground truth is the origin. Distances: 3-4-5 and 6-8-10 triangles, 12 on z.
PRED = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 12.0], [6.0, 8.0, 0.0]]])
GT = np.zeros_like(PRED)
ERRORS = np.array([[5.0, 0.0], [12.0, 10.0]])


def test_joint_errors_by_hand():
    np.testing.assert_allclose(metrics.joint_errors(PRED, GT), ERRORS)


def test_error_2d_ignores_depth():
    pred = np.array([[[3.0, 4.0, 100.0]]])
    gt = np.array([[[0.0, 0.0, -50.0]]])
    np.testing.assert_allclose(metrics.error_2d(pred, gt), [[5.0]])


def test_mean_median_per_joint_by_hand():
    assert metrics.mean_error(ERRORS) == pytest.approx(27 / 4)
    assert metrics.median_error(ERRORS) == pytest.approx((5 + 10) / 2)
    np.testing.assert_allclose(metrics.per_joint_error(ERRORS), [8.5, 5.0])


def test_visibility_mask_by_hand():
    mask = np.array([[True, False], [True, True]])
    assert metrics.mean_error(ERRORS, mask) == pytest.approx(9.0)
    assert metrics.median_error(ERRORS, mask) == pytest.approx(10.0)
    np.testing.assert_allclose(metrics.per_joint_error(ERRORS, mask), [8.5, 10.0])
    never = np.array([[True, False], [True, False]])
    per_joint = metrics.per_joint_error(ERRORS, never)
    assert per_joint[0] == pytest.approx(8.5) and np.isnan(per_joint[1])


def test_success_rate_modes_by_hand():
    # Frame maxima 5 and 12; frame means 2.5 and 11; all joints 0, 5, 10, 12. Comparison is "<=".
    np.testing.assert_allclose(metrics.success_rate(ERRORS, [0, 5, 11, 12], "max"), [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(metrics.success_rate(ERRORS, [0, 2.5, 11], "mean"), [0, 0.5, 1])
    np.testing.assert_allclose(metrics.success_rate(ERRORS, [0, 5, 10, 12], "joint"), [0.25, 0.5, 0.75, 1])
    default = metrics.success_rate(ERRORS)
    assert default.shape == (81,) and default[4] == 0 and default[5] == 0.5 and default[12] == 1
    with pytest.raises(HandposeError):
        metrics.success_rate(ERRORS, mode="min")  # type: ignore[arg-type]


def test_torch_in_torch_out():
    pred, gt = torch.tensor(PRED, dtype=torch.float32), torch.tensor(GT, dtype=torch.float32)
    errors = metrics.joint_errors(pred, gt)
    assert isinstance(errors, torch.Tensor) and errors.dtype == torch.float32
    np.testing.assert_allclose(errors.numpy(), ERRORS)
    mean = metrics.mean_error(errors)
    assert isinstance(mean, torch.Tensor) and mean.item() == pytest.approx(6.75)
    # Even count: the two middle values are averaged, like numpy (torch.median would give 5).
    assert metrics.median_error(errors).item() == pytest.approx(7.5)
    mask = torch.tensor([[True, False], [True, True]])
    assert metrics.mean_error(errors, mask).item() == pytest.approx(9.0)
    np.testing.assert_allclose(metrics.per_joint_error(errors, mask).numpy(), [8.5, 10.0])
    curve = metrics.success_rate(errors, [0, 5, 11, 12])
    assert isinstance(curve, torch.Tensor)
    np.testing.assert_allclose(curve.numpy(), [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(metrics.error_2d(pred, gt).numpy(), [[5.0, 0.0], [0.0, 10.0]])


def test_auc_by_hand():
    # PCK 0.25, 0.5, 0.75, 1 at 0..3: trapezoids 0.375 + 0.625 + 0.875 = 1.875, over a range of 3.
    assert metrics.auc([0, 1, 2, 3], [0.25, 0.5, 0.75, 1.0]) == pytest.approx(0.625)
    with pytest.raises(HandposeError):
        metrics.auc([1.0], [1.0])


def test_pck_curve_skips_never_visible_keypoints():
    errors = np.array([[0.0, 5.0, 0.0], [1.0, 5.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    visible = np.array([[True, True, False], [True, True, False], [True, False, False], [True, False, False]])
    curve, per_keypoint = metrics.pck_curve(errors, [0, 1, 2, 3], visible)
    np.testing.assert_allclose(per_keypoint[0], [0.25, 0.5, 0.75, 1.0])
    # Keypoint 1 is visible only where its error is 5: its zeros are not counted.
    np.testing.assert_allclose(per_keypoint[1], [0, 0, 0, 0])
    assert np.isnan(per_keypoint[2]).all()
    np.testing.assert_allclose(curve, [0.125, 0.25, 0.375, 0.5])


def test_zimmermann_thresholds_and_20_50_start():
    t = metrics.zimmermann_thresholds()
    assert len(t) == 20 and t[0] == 0 and t[-1] == 50
    assert t[metrics.AUC_20_50_START] == pytest.approx(8 * 50 / 19)  # 21.05 mm, not 20
    assert len(metrics.zimmermann_thresholds(steps=100)) == 100


def test_zimmermann_measures_average_per_keypoint():
    # Keypoint 0: errors 1, 3 (mean 2, median 2); keypoint 1: errors 10, 10, 40 (mean 20, median 10).
    errors = np.array([[1.0, 10.0], [3.0, 10.0], [99.0, 40.0]])
    visible = np.array([[True, True], [True, True], [False, True]])
    m = metrics.zimmermann_measures(errors, visible)
    assert m.epe_mean == pytest.approx((2 + 20) / 2)
    assert m.epe_median == pytest.approx((2 + 10) / 2)
    _, per_keypoint = metrics.pck_curve(errors, m.thresholds, visible)
    expected_auc = np.mean([metrics.auc(m.thresholds, row) for row in per_keypoint])
    assert m.auc == pytest.approx(expected_auc)


def test_rgb_protocol_constant_offset_by_hand():
    # Every joint 30 mm off: PCK jumps from 0 to 1 between thresholds 11 (28.95 mm) and 12 (31.58 mm).
    # With step h = 50/19 the area is 0.5h + 7h; over 0-50 that is 7.5/19, over 21.05-50 it is 375/550.
    gt = np.random.default_rng(0).normal(size=(5, 21, 3)) * 40
    pred = gt + np.array([30.0, 0.0, 0.0])
    r = metrics.rgb_protocol(pred, gt)
    assert r.mean_epe_mm == pytest.approx(30) and r.median_epe_mm == pytest.approx(30)
    assert r.auc_0_50 == pytest.approx(7.5 / 19)
    assert r.auc_20_50 == pytest.approx(375 / 550)
    perfect = metrics.rgb_protocol(gt, gt)
    assert perfect.auc_0_50 == pytest.approx(1.0) and perfect.auc_20_50 == pytest.approx(1.0)


def _tetrahedra() -> np.ndarray:
    return np.array([[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 30.0]]])


def test_pa_mpjpe_removes_similarity_and_reflection_only_when_allowed():
    gt = _tetrahedra()
    angle = np.deg2rad(40)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    moved = 2.5 * gt @ rot.T + np.array([5.0, -7.0, 300.0])
    assert metrics.pa_mpjpe(moved, gt) == pytest.approx(0.0, abs=1e-9)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert metrics.pa_mpjpe(mirrored, gt, allow_reflection=True) == pytest.approx(0.0, abs=1e-9)
    assert metrics.pa_mpjpe(mirrored, gt, allow_reflection=False) > 1.0
    as_torch = metrics.pa_mpjpe(torch.tensor(moved), torch.tensor(gt))
    assert isinstance(as_torch, torch.Tensor) and as_torch.item() == pytest.approx(0.0, abs=1e-9)


def _freihand_align_w_scale(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    # FreiHAND's eval.py recipe: centre on the mean, divide by the Frobenius norm, scipy Procrustes, map back.
    t_gt, t_pred = gt.mean(0), pred.mean(0)
    g, p = gt - t_gt, pred - t_pred
    s_gt, s_pred = np.linalg.norm(g) + 1e-8, np.linalg.norm(p) + 1e-8
    r, s = orthogonal_procrustes(g / s_gt, p / s_pred)
    return (p / s_pred) @ r.T * s * s_gt + t_gt


def test_freihand_protocol_matches_scipy_alignment(rng):
    gt = rng.normal(size=(6, 21, 3)) * 30
    pred = gt[:, ::-1] + rng.normal(size=gt.shape) * 8  # deliberately poor, so reflections can win
    aligned = np.stack([_freihand_align_w_scale(g, p) for g, p in zip(gt, pred)])
    expected = metrics.joint_errors(aligned, gt).mean()
    r = metrics.freihand_protocol(pred, gt)
    assert r.pa_mpjpe_mm == pytest.approx(expected, rel=1e-6)
    # Two of these frames are fitted best by a reflection, so the proper-rotation variant is worse.
    assert r.pa_mpjpe_mm < metrics.pa_mpjpe(pred, gt, allow_reflection=False) - 0.1
    assert r.mpjpe_mm == pytest.approx(metrics.joint_errors(pred, gt).mean())
    assert len(r.thresholds_mm) == 100 and r.thresholds_mm[-1] == 50
    assert 0 <= r.auc_unaligned <= r.auc <= 1


def test_shape_mismatch_is_a_handpose_error():
    with pytest.raises(HandposeError, match="differs"):
        metrics.joint_errors(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))


def test_dexter_object_protocol_centroid_alignment_and_missing_tips():
    gt = np.zeros((2, 5, 3))
    gt[:, :, 0] = np.arange(5) * 20.0
    gt[1, 4] = np.nan  # an unannotated tip
    pred = gt.copy()
    pred[1, 4] = 999.0  # whatever is predicted there must not count
    pred[..., 2] += 30.0  # a pure shift: gone after centroid alignment
    pred[0, 0, 1] += 10.0  # one tip 10 mm off (moves the centroid by 2 mm)
    res = metrics.dexter_object_protocol(pred, gt)
    assert res.frames == 2
    # Frame 0 after alignment: tip 0 is off by (0, 8, 0), the others by (0, -2, 0).
    errors = np.array([[8.0, 2, 2, 2, 2], [0, 0, 0, 0, np.nan]])
    per_tip_means = [np.nanmean(errors[:, j]) for j in range(5)]
    assert res.mean_error_mm == pytest.approx(np.mean(per_tip_means))
    assert 0.9 < res.auc_0_50 < res.auc_0_100 < 1.0
    raw = metrics.dexter_object_protocol(pred, gt, align_centroid=False)
    assert raw.mean_error_mm > 29.0 and raw.auc_0_50 < res.auc_0_50
    with pytest.raises(HandposeError, match="no frame"):
        metrics.dexter_object_protocol(pred, np.full_like(gt, np.nan))
