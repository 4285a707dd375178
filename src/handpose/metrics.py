"""The field's hand-pose metrics as pure functions.

Shapes: ``N`` frames, ``J`` joints, ``D`` coordinates (3 for camera-space millimetres, 2 for pixels),
``T`` thresholds. Joint positions are ``(N, J, D)`` (any leading batch shape works where it makes
sense); per-joint errors are ``(N, J)``.

Array kinds: the error functions (:func:`joint_errors`, :func:`error_2d`, :func:`mean_error`,
:func:`median_error`, :func:`per_joint_error`, :func:`success_rate`, :func:`pa_mpjpe`) accept numpy
arrays or torch tensors and return the same kind (a Python ``float`` for a numpy scalar result, a
0-d tensor for a torch one). The curve protocols (:func:`pck_curve`, :func:`zimmermann_measures`,
:func:`rgb_protocol`, :func:`freihand_protocol`) accept either and return numpy/float results.

Conventions, with sources (see ``docs/evaluation.md``):

- Depth benchmarks (ICVL, NYU, MSRA; ``awesome-hand-pose-estimation/evaluation``): mean error is the
  mean over all frames and joints of the Euclidean 3D distance, no alignment; the success-rate curve
  is the fraction of frames whose *worst* joint is within ``t`` mm, ``t = 0, 1, ..., 80``, with ``<=``.
- RHD/STB (Zimmermann & Brox, ``hand3d`` ``EvalUtil``): distances are kept only where the keypoint is
  visible; per keypoint, PCK(t) = fraction of its distances ``<= t``, the AUC is the trapezoid integral
  divided by the threshold range; AUC, mean and median EPE are computed per keypoint, then averaged over
  the keypoints that were visible at least once. Thresholds: 20 values ``linspace(0, 50, 20)`` mm.
  "AUC 20-50" is the AUC of the averaged curve from index 8 on, i.e. 21.05 ... 50 mm (12 points).
- FreiHAND (``freihand/eval.py``): the prediction is aligned to the ground truth per frame by a
  similarity transform that may include a reflection (``scipy.linalg.orthogonal_procrustes``), then the
  same per-keypoint PCK/AUC with 100 thresholds over 0-50 mm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from typing_extensions import TypeIs

from handpose.errors import HandposeError
from handpose.geometry import procrustes_align

if TYPE_CHECKING:
    import torch

    Array = np.ndarray | torch.Tensor
else:
    Array = Any

SuccessMode = Literal["max", "mean", "joint"]

#: Thresholds of the depth benchmarks' success-rate curve, in mm (0, 1, ..., 80).
SUCCESS_THRESHOLDS_MM: np.ndarray = np.arange(0, 81, dtype=np.float64)

#: Index of Zimmermann's 20-threshold curve where "AUC 20-50" starts (threshold 21.05 mm).
AUC_20_50_START: int = 8


def _is_torch(x: Any) -> TypeIs[torch.Tensor]:
    # Checked by module name so that numpy-only callers never import torch.
    return type(x).__module__.split(".")[0] == "torch"


def _to_numpy(x: Array) -> np.ndarray:
    if _is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_same_shape(pred: Array, gt: Array, min_dims: int = 2) -> None:
    if tuple(pred.shape) != tuple(gt.shape):
        raise HandposeError(f"prediction shape {tuple(pred.shape)} differs from ground-truth shape {tuple(gt.shape)}")
    if len(pred.shape) < min_dims:
        raise HandposeError(f"joints must be (..., J, D), got shape {tuple(pred.shape)}")


# ------------------------------------------------------------------------------------------------
# Per-joint errors and their summaries
# ------------------------------------------------------------------------------------------------
def joint_errors(pred: Array, gt: Array) -> Array:
    """Euclidean distance per joint.

    Args:
        pred: ``(..., J, D)`` predicted joints.
        gt: ``(..., J, D)`` ground truth, same shape and units.

    Returns:
        ``(..., J)`` distances in the input's units, same kind as the input.
    """
    _check_same_shape(pred, gt)
    if _is_torch(pred) or _is_torch(gt):
        import torch

        pred_t, gt_t = torch.as_tensor(pred), torch.as_tensor(gt)
        return torch.linalg.vector_norm(pred_t - gt_t, dim=-1)
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(gt, dtype=np.float64)
    return np.sqrt(np.einsum("...d,...d->...", diff, diff))


def error_2d(pred_uv: Array, gt_uv: Array) -> Array:
    """Distance in pixels between 2D keypoints; only the first two coordinates are used.

    Args:
        pred_uv: ``(..., J, >=2)`` predicted pixel positions (u, v[, ...]).
        gt_uv: ``(..., J, >=2)`` ground-truth pixel positions.

    Returns:
        ``(..., J)`` pixel distances, same kind as the input.
    """
    _check_same_shape(pred_uv, gt_uv)
    if pred_uv.shape[-1] < 2:
        raise HandposeError(f"2D error needs at least two coordinates, got shape {tuple(pred_uv.shape)}")
    return joint_errors(pred_uv[..., :2], gt_uv[..., :2])


def _masked_values(errors: Array, mask: Array | None) -> Array:
    if mask is None:
        return errors.reshape(-1)
    if tuple(mask.shape) != tuple(errors.shape):
        raise HandposeError(f"mask shape {tuple(mask.shape)} differs from errors shape {tuple(errors.shape)}")
    if _is_torch(errors):
        import torch

        return errors[torch.as_tensor(mask, dtype=torch.bool, device=errors.device)]
    return np.asarray(errors)[np.asarray(mask, dtype=bool)]


def mean_error(errors: Array, mask: Array | None = None) -> float | Array:
    """Mean of per-joint errors over all frames and joints (the depth benchmarks' "mean error").

    Args:
        errors: ``(N, J)`` distances, e.g. from :func:`joint_errors`.
        mask: Optional ``(N, J)`` booleans; only ``True`` entries count (e.g. visible joints).

    Returns:
        A float for numpy input, a 0-d tensor for torch input; NaN when nothing is selected.
    """
    values = _masked_values(errors, mask)
    if _is_torch(values):
        return values.mean() if values.numel() else values.new_tensor(float("nan"))
    return float(values.mean()) if values.size else float("nan")


def _torch_median(values: torch.Tensor) -> torch.Tensor:
    # torch.median returns the lower middle value; numpy (and the papers' code) average the two.
    n = values.numel()
    if n == 0:
        return values.new_tensor(float("nan"))
    ordered = values.reshape(-1).sort().values
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def median_error(errors: Array, mask: Array | None = None) -> float | Array:
    """Median of per-joint errors over all frames and joints (numpy's median: middle pair averaged).

    Args:
        errors: ``(N, J)`` distances.
        mask: Optional ``(N, J)`` booleans; only ``True`` entries count.

    Returns:
        A float for numpy input, a 0-d tensor for torch input; NaN when nothing is selected.
    """
    values = _masked_values(errors, mask)
    if _is_torch(values):
        return _torch_median(values)
    return float(np.median(values)) if values.size else float("nan")


def per_joint_error(errors: Array, mask: Array | None = None) -> Array:
    """Mean error of each joint over the frames.

    Args:
        errors: ``(N, J)`` distances.
        mask: Optional ``(N, J)`` booleans; a joint's mean uses only its ``True`` frames.

    Returns:
        ``(J,)`` means, same kind as ``errors``; NaN for a joint that is never selected.
    """
    if len(errors.shape) != 2:
        raise HandposeError(f"errors must be (N, J), got shape {tuple(errors.shape)}")
    if _is_torch(errors):
        import torch

        if mask is None:
            return errors.mean(dim=0)
        if tuple(mask.shape) != tuple(errors.shape):
            raise HandposeError(f"mask shape {tuple(mask.shape)} differs from errors shape {tuple(errors.shape)}")
        weights = torch.as_tensor(mask, dtype=errors.dtype, device=errors.device)
        return (errors * weights).sum(dim=0) / weights.sum(dim=0)
    values = np.asarray(errors, dtype=np.float64)
    if mask is None:
        return values.mean(axis=0)
    selected = np.asarray(mask, dtype=bool)
    if selected.shape != values.shape:
        raise HandposeError(f"mask shape {selected.shape} differs from errors shape {values.shape}")
    counts = selected.sum(axis=0)
    sums = np.where(selected, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def success_rate(
    errors: Array, thresholds: Array | Sequence[float] = SUCCESS_THRESHOLDS_MM, mode: SuccessMode = "max"
) -> Array:
    """Success-rate curve of the depth benchmarks (``awesome-hand-pose-estimation`` ``compute_error.py``).

    Args:
        errors: ``(N, J)`` distances in mm.
        thresholds: ``(T,)`` thresholds in mm; default 0, 1, ..., 80.
        mode: ``"max"``: fraction of frames whose largest joint error is ``<= t`` (the usual "maximum
            allowed distance to GT" curve); ``"mean"``: fraction of frames whose mean joint error is
            ``<= t``; ``"joint"``: fraction of all joints with error ``<= t``.

    Returns:
        ``(T,)`` fractions in [0, 1] (not percent), same kind as ``errors``.
    """
    if len(errors.shape) != 2:
        raise HandposeError(f"errors must be (N, J), got shape {tuple(errors.shape)}")
    if mode not in ("max", "mean", "joint"):
        raise HandposeError(f"success-rate mode must be 'max', 'mean' or 'joint', got {mode!r}")
    if _is_torch(errors):
        import torch

        t = torch.as_tensor(thresholds, dtype=errors.dtype, device=errors.device)
        if mode == "max":
            per_item = errors.amax(dim=1)
        elif mode == "mean":
            per_item = errors.mean(dim=1)
        else:
            per_item = errors.reshape(-1)
        return (per_item[:, None] <= t[None, :]).to(errors.dtype).mean(dim=0)
    values = np.asarray(errors, dtype=np.float64)
    limits = np.asarray(thresholds, dtype=np.float64)
    if mode == "max":
        per_frame = values.max(axis=1)
    elif mode == "mean":
        per_frame = values.mean(axis=1)
    else:
        per_frame = values.reshape(-1)
    # Sorting once makes each threshold a binary search instead of a pass over every frame.
    ordered = np.sort(per_frame)
    return np.searchsorted(ordered, limits, side="right") / max(len(ordered), 1)


# ------------------------------------------------------------------------------------------------
# PCK / AUC as in Zimmermann & Brox's EvalUtil (RHD, STB) and FreiHAND
# ------------------------------------------------------------------------------------------------
def zimmermann_thresholds(min_mm: float = 0.0, max_mm: float = 50.0, steps: int = 20) -> np.ndarray:
    """``np.linspace(min_mm, max_mm, steps)``: EvalUtil's thresholds (RHD/STB: 0-50 mm, 20 steps; FreiHAND: 100)."""
    return np.linspace(min_mm, max_mm, steps)


def auc(thresholds: Array, curve: Array) -> float:
    """Area under a PCK curve, normalised by the threshold range (trapezoid rule; 1.0 = always correct).

    Args:
        thresholds: ``(T,)`` increasing thresholds, T >= 2.
        curve: ``(T,)`` PCK values at those thresholds.
    """
    x = _to_numpy(thresholds).astype(np.float64)
    y = _to_numpy(curve).astype(np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise HandposeError(f"AUC needs matching 1-D thresholds and curve of length >= 2, got {x.shape} and {y.shape}")
    span = x.max() - x.min()
    if span <= 0:
        raise HandposeError("AUC needs thresholds spanning a non-zero range")
    return float(np.trapezoid(y, x) / span)


def pck_curve(errors: Array, thresholds: Array, visible: Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PCK per keypoint and averaged over keypoints, EvalUtil style.

    Args:
        errors: ``(N, J)`` distances.
        thresholds: ``(T,)`` thresholds in the same units.
        visible: Optional ``(N, J)`` booleans; a keypoint's PCK uses only its visible frames.

    Returns:
        ``(curve, per_keypoint)``: ``curve`` is ``(T,)``, the mean of the rows of ``per_keypoint``
        (``(J, T)``) over the keypoints visible at least once; rows of never-visible keypoints are NaN.
    """
    err = _to_numpy(errors).astype(np.float64)
    if err.ndim != 2:
        raise HandposeError(f"errors must be (N, J), got shape {err.shape}")
    t = _to_numpy(thresholds).astype(np.float64)
    vis = np.ones(err.shape, dtype=bool) if visible is None else _to_numpy(visible).astype(bool)
    if vis.shape != err.shape:
        raise HandposeError(f"visibility shape {vis.shape} differs from errors shape {err.shape}")
    per_keypoint = np.full((err.shape[1], len(t)), np.nan)
    for j in range(err.shape[1]):
        # A sorted column turns every threshold into one binary search.
        values = np.sort(err[vis[:, j], j])
        if values.size:
            per_keypoint[j] = np.searchsorted(values, t, side="right") / values.size
    seen = vis.any(axis=0)
    if not seen.any():
        raise HandposeError("no keypoint is visible in any frame; PCK is undefined")
    return per_keypoint[seen].mean(axis=0), per_keypoint


@dataclass(frozen=True)
class ZimmermannMeasures:
    """What ``EvalUtil.get_measures`` returns, averaged over keypoints visible at least once.

    Attributes:
        epe_mean: Mean over keypoints of each keypoint's mean error.
        epe_median: Mean over keypoints of each keypoint's median error.
        auc: Mean over keypoints of each keypoint's normalised AUC over ``thresholds``.
        pck: ``(T,)`` PCK curve averaged over keypoints.
        thresholds: ``(T,)`` thresholds.
    """

    epe_mean: float
    epe_median: float
    auc: float
    pck: np.ndarray
    thresholds: np.ndarray


def zimmermann_measures(
    errors: Array,
    visible: Array | None = None,
    min_mm: float = 0.0,
    max_mm: float = 50.0,
    steps: int = 20,
) -> ZimmermannMeasures:
    """Zimmermann & Brox's ``EvalUtil.feed`` + ``get_measures(min, max, steps)`` on precomputed distances.

    Args:
        errors: ``(N, J)`` distances in mm.
        visible: Optional ``(N, J)`` booleans; invisible keypoints are left out of every statistic.
        min_mm: Lowest threshold.
        max_mm: Highest threshold.
        steps: Number of thresholds (``linspace``).
    """
    err = _to_numpy(errors).astype(np.float64)
    thresholds = zimmermann_thresholds(min_mm, max_mm, steps)
    curve, per_keypoint = pck_curve(err, thresholds, visible)
    vis = np.ones(err.shape, dtype=bool) if visible is None else _to_numpy(visible).astype(bool)
    means, medians, aucs = [], [], []
    for j in range(err.shape[1]):
        values = err[vis[:, j], j]
        if values.size == 0:
            continue
        means.append(values.mean())
        medians.append(np.median(values))
        aucs.append(auc(thresholds, per_keypoint[j]))
    return ZimmermannMeasures(
        epe_mean=float(np.mean(means)),
        epe_median=float(np.mean(medians)),
        auc=float(np.mean(aucs)),
        pck=curve,
        thresholds=thresholds,
    )


@dataclass(frozen=True)
class RGBProtocolResult:
    """RHD/STB-style 3D results (Zimmermann's protocol, 20 thresholds over 0-50 mm).

    Attributes:
        mean_epe_mm: Per-keypoint mean EPE averaged over keypoints.
        median_epe_mm: Per-keypoint median EPE averaged over keypoints.
        thresholds_mm: ``(20,)`` thresholds 0, 2.63, ..., 50 mm.
        pck: ``(20,)`` PCK curve.
        auc_0_50: AUC over 0-50 mm.
        auc_20_50: AUC of ``pck[8:]`` over ``thresholds_mm[8:]`` = 21.05-50 mm (what papers call "20-50").
    """

    mean_epe_mm: float
    median_epe_mm: float
    thresholds_mm: np.ndarray
    pck: np.ndarray
    auc_0_50: float
    auc_20_50: float


def rgb_protocol(pred: Array, gt: Array, visible: Array | None = None) -> RGBProtocolResult:
    """Score 3D RGB predictions the way RHD/STB numbers are reported.

    The caller prepares both sides in the paper's frame (e.g. root-relative, prediction rescaled with
    the GT bone length, as ``hand3d`` ``eval_full.py`` does); this function does no alignment.

    Args:
        pred: ``(N, J, 3)`` predicted joints, mm.
        gt: ``(N, J, 3)`` ground truth, mm.
        visible: Optional ``(N, J)`` visibility; Zimmermann masks by it (LearnableGroups does not).
    """
    errors = joint_errors(_to_numpy(pred), _to_numpy(gt))
    m = zimmermann_measures(errors, visible, 0.0, 50.0, 20)
    tail = slice(AUC_20_50_START, None)
    return RGBProtocolResult(
        mean_epe_mm=m.epe_mean,
        median_epe_mm=m.epe_median,
        thresholds_mm=m.thresholds,
        pck=m.pck,
        auc_0_50=m.auc,
        auc_20_50=auc(m.thresholds[tail], m.pck[tail]),
    )


def pa_mpjpe(pred: Array, gt: Array, allow_reflection: bool = False) -> float | Array:
    """Procrustes-aligned mean per-joint position error.

    Each frame's prediction is mapped onto its ground truth by the best similarity transform (rotation,
    uniform scale, translation; centred on the mean of the joints), then the mean joint distance is
    taken over all frames and joints. No gradient flows through the alignment.

    Args:
        pred: ``(N, J, 3)`` predicted joints.
        gt: ``(N, J, 3)`` ground truth.
        allow_reflection: ``True`` lets the "rotation" be a reflection, like ``scipy.linalg.
            orthogonal_procrustes`` in the FreiHAND evaluation; ``False`` (common PA-MPJPE code) keeps a
            proper rotation.

    Returns:
        Float for numpy input, 0-d tensor for torch input, in the input's units.
    """
    _check_same_shape(pred, gt, min_dims=3)
    aligned = procrustes_align(_to_numpy(pred), _to_numpy(gt), scale=True, allow_reflection=allow_reflection)
    value = float(joint_errors(aligned, _to_numpy(gt).astype(np.float64)).mean())
    for ref in (pred, gt):
        if _is_torch(ref):
            import torch

            return torch.tensor(value, dtype=ref.dtype if ref.is_floating_point() else torch.float64, device=ref.device)
    return value


@dataclass(frozen=True)
class FreiHANDResult:
    """FreiHAND keypoint results (``freihand/eval.py``), in mm.

    Attributes:
        mpjpe_mm: "Keypoint error": mean over keypoints of the per-keypoint mean distance, no alignment.
        pa_mpjpe_mm: "Keypoint error aligned": the same after per-frame Procrustes alignment (reflection allowed).
        auc: AUC of the aligned per-keypoint PCK over 0-50 mm, 100 thresholds.
        auc_unaligned: The same without alignment.
        thresholds_mm: ``(100,)`` thresholds.
        pck: ``(100,)`` aligned PCK curve.
    """

    mpjpe_mm: float
    pa_mpjpe_mm: float
    auc: float
    auc_unaligned: float
    thresholds_mm: np.ndarray
    pck: np.ndarray


def freihand_protocol(pred: Array, gt: Array) -> FreiHANDResult:
    """Score 21-keypoint predictions with FreiHAND's keypoint metrics (all keypoints count).

    Args:
        pred: ``(N, J, 3)`` predicted joints in mm (FreiHAND files are metres: multiply by 1000 first).
        gt: ``(N, J, 3)`` ground truth in mm.
    """
    pred_np = _to_numpy(pred).astype(np.float64)
    gt_np = _to_numpy(gt).astype(np.float64)
    _check_same_shape(pred_np, gt_np, min_dims=3)
    aligned = procrustes_align(pred_np, gt_np, scale=True, allow_reflection=True)
    raw = zimmermann_measures(joint_errors(pred_np, gt_np), None, 0.0, 50.0, 100)
    pa = zimmermann_measures(joint_errors(aligned, gt_np), None, 0.0, 50.0, 100)
    return FreiHANDResult(
        mpjpe_mm=raw.epe_mean,
        pa_mpjpe_mm=pa.epe_mean,
        auc=pa.auc,
        auc_unaligned=raw.auc,
        thresholds_mm=pa.thresholds,
        pck=pa.pck,
    )


@dataclass(frozen=True)
class DexterObjectResult:
    """Dexter+Object fingertip results, in mm.

    Attributes:
        frames: Frames scored (those with at least one annotated fingertip).
        mean_error_mm: Mean over fingertips of each fingertip's mean distance (annotated tips only).
        median_error_mm: Mean over fingertips of each fingertip's median distance.
        auc_0_50: Fingertip PCK AUC over 0-50 mm (20 thresholds, EvalUtil's averaging).
        auc_0_100: The same over 0-100 mm (20 thresholds), the range of Learnable Groups' D+O plot.
        thresholds_mm: ``(20,)`` thresholds of ``pck`` (0-50 mm).
        pck: ``(20,)`` PCK curve over 0-50 mm.
    """

    frames: int
    mean_error_mm: float
    median_error_mm: float
    auc_0_50: float
    auc_0_100: float
    thresholds_mm: np.ndarray
    pck: np.ndarray


def dexter_object_protocol(
    pred_tips: Array, gt_tips: Array, visible: Array | None = None, align_centroid: bool = True
) -> DexterObjectResult:
    """Score fingertip predictions on Dexter+Object (only the five fingertips are annotated there).

    D+O labels no wrist or knuckle, so a root-relative prediction cannot be placed from the labels
    the way RHD/STB predictions are; with ``align_centroid`` each frame's predicted tips are shifted
    so that their mean over the annotated tips meets the labels' mean (translation only: no scale or
    rotation is fitted).

    Args:
        pred_tips: ``(N, 5, 3)`` predicted fingertips, mm.
        gt_tips: ``(N, 5, 3)`` labelled fingertips, mm (NaN where not annotated).
        visible: Optional ``(N, 5)`` mask of annotated tips (default: the finite labels).
        align_centroid: Shift each prediction onto the labels' fingertip centroid first.
    """
    pred = _to_numpy(pred_tips).astype(np.float64)
    gt = _to_numpy(gt_tips).astype(np.float64)
    _check_same_shape(pred, gt, min_dims=3)
    vis = np.all(np.isfinite(gt), axis=-1) if visible is None else _to_numpy(visible).astype(bool)
    vis = vis & np.all(np.isfinite(gt), axis=-1)
    keep = vis.any(axis=1)
    if not keep.any():
        raise HandposeError("no frame has an annotated fingertip")
    pred, gt, vis = pred[keep], np.where(vis[keep][..., None], gt[keep], 0.0), vis[keep]
    if align_centroid:
        weights = vis[..., None].astype(np.float64)
        count = weights.sum(axis=1, keepdims=True)
        shift = ((gt - pred) * weights).sum(axis=1, keepdims=True) / count
        pred = pred + shift
    errors = joint_errors(pred, gt)
    near = zimmermann_measures(errors, vis, 0.0, 50.0, 20)
    far = zimmermann_measures(errors, vis, 0.0, 100.0, 20)
    return DexterObjectResult(
        frames=int(keep.sum()),
        mean_error_mm=near.epe_mean,
        median_error_mm=near.epe_median,
        auc_0_50=near.auc,
        auc_0_100=far.auc,
        thresholds_mm=near.thresholds,
        pck=near.pck,
    )


__all__ = [
    "AUC_20_50_START",
    "SUCCESS_THRESHOLDS_MM",
    "DexterObjectResult",
    "FreiHANDResult",
    "RGBProtocolResult",
    "ZimmermannMeasures",
    "auc",
    "dexter_object_protocol",
    "error_2d",
    "freihand_protocol",
    "joint_errors",
    "mean_error",
    "median_error",
    "pa_mpjpe",
    "pck_curve",
    "per_joint_error",
    "rgb_protocol",
    "success_rate",
    "zimmermann_measures",
    "zimmermann_thresholds",
]
