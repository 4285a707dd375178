"""Test splits scored on a server: tell them apart and write what the server reads.

HANDS 2017's and HANDS 2019 Task 1's test splits have no labels at all, HO-3D v3's evaluation split only the wrist: no
score can be computed here, so ``evaluate --checkpoint`` writes the submission file instead
(:mod:`handpose.evaluation.submission`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handpose.evaluation import submission

#: Dataset -> file name of its server submission.
SUBMISSION_FILES = {"hands2017": "result.txt", "hands2019": "result.txt", "ho3d": "pred.json"}


def server_scored(dataset: str, gt_xyz: np.ndarray) -> bool:
    """Whether a split of ``dataset`` is one a server scores: a submission format exists and no frame is fully labelled."""
    if dataset not in SUBMISSION_FILES:
        return False
    gt = np.asarray(gt_xyz, dtype=np.float64)
    return not bool(np.all(np.isfinite(gt), axis=(-2, -1)).any())


def write_server_submission(
    dataset: str, folder: str | Path, stem: str, pred_xyz: np.ndarray, skeleton: str, frame_ids: Sequence[str]
) -> Path:
    """The submission file of ``dataset`` for ``(N, J, 3)`` camera-mm predictions, as ``folder/stem_<file>``."""
    path = Path(folder) / f"{stem}_{SUBMISSION_FILES[dataset]}"
    if dataset == "hands2019":
        return submission.write_hands2019_result(path, frame_ids, pred_xyz, skeleton)
    if dataset == "hands2017":
        return submission.write_hands2017_result(path, frame_ids, pred_xyz, skeleton)
    # Any frame count: a check on part of the split must be possible; the server refuses a partial file.
    return submission.write_ho3d_pred(path, pred_xyz, skeleton, expected_frames=None)
