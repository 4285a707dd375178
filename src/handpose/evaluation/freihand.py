"""FreiHAND's keypoint scores of a model's predictions (``lmb-freiburg/freihand`` ``eval.py``).

The official script scores 21 keypoints per frame, every one of them: the raw camera-frame error,
the error after Procrustes alignment with scale (centred on the mean of the points,
``align_w_scale``), and the AUC of the aligned PCK over 0-50 mm with 100 thresholds; it prints
errors in cm, reported here in mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handpose import metrics
from handpose.evaluation.submission import to_skeleton


def freihand_scores(pred_mm: np.ndarray, gt_mm: np.ndarray, skeleton: str) -> dict[str, Any]:
    """``eval.py``'s keypoint numbers for ``(N, J, 3)`` camera-frame predictions and labels in mm."""
    pred = to_skeleton(pred_mm, skeleton, "freihand21")
    gt = to_skeleton(gt_mm, skeleton, "freihand21")
    result = metrics.freihand_protocol(pred, gt)
    return {
        "keypoint_error_mm": result.mpjpe_mm,
        "keypoint_error_aligned_mm": result.pa_mpjpe_mm,
        "auc_aligned_0_50": result.auc,
        "auc_unaligned_0_50": result.auc_unaligned,
        "thresholds_mm": result.thresholds_mm.tolist(),
        "pck_aligned": result.pck.tolist(),
    }
