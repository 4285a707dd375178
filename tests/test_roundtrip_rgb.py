"""RGB scoring as the papers do, on a tiny Learnable Groups model trained on FreiHAND-format files.

FreiHAND: every joint scored, ``eval.py``'s aligned keypoint numbers and a ``pred.json``;
Dexter+Object: the fingertips, lifted at the model's hand size and centroid-aligned.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from fixtures import rgb_formats as rx
from handpose.evaluation.submission import read_pred_json
from training_helpers import QUICK_RGB, REPO, _tmp, check_dexter_fingertips, cli, holdout_args

CONFIG = REPO / "configs" / "synthetic" / "learnable_groups_k3_cpu.yaml"


@cache
def _freihand_run() -> tuple[Path, Path]:
    root = _tmp() / "freihand"
    rx.write_freihand(root, np.random.default_rng(3), count=4, eval_count=3)
    args = holdout_args("train", CONFIG, _tmp() / "rgb_runs", "fh", "freihand", f"data.root={root}", *QUICK_RGB)
    assert cli(*args) == 0
    return root, _tmp() / "rgb_runs" / "fh" / "checkpoints" / "last.ckpt"


def test_freihand_scores_all_joints_aligned_and_writes_pred_json(tmp_path):
    root, ckpt = _freihand_run()
    out = tmp_path / "fh.json"
    assert cli("evaluate", "--checkpoint", ckpt, "--dataset", "freihand", "--root", root, "--json", out) == 0
    report = json.loads(out.read_text())
    assert report["scored_joints"] == "all" and report["frames"] == 3
    fh = report["freihand"]
    assert 0 <= fh["keypoint_error_aligned_mm"] <= fh["keypoint_error_mm"]
    assert len(fh["pck_aligned"]) == 100 and 0 <= fh["auc_aligned_0_50"] <= 1
    xyz, _ = read_pred_json(report["predictions_json"])
    assert xyz.shape == (3, 21, 3) and (xyz[..., 2] > 0).all()  # metres, camera frame
    visible = tmp_path / "vis.json"
    assert (
        cli(
            "evaluate",
            "--checkpoint",
            ckpt,
            "--dataset",
            "freihand",
            "--root",
            root,
            "--json",
            visible,
            "--visible-only",
        )
        == 0
    )
    assert json.loads(visible.read_text())["scored_joints"] == "visible"


def test_dexter_object_fingertips(tmp_path):
    _, ckpt = _freihand_run()
    check_dexter_fingertips(ckpt, tmp_path, seed=4)
