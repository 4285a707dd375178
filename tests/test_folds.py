"""``handpose folds``: MSRA's leave-one-subject-out folds, resumed and pooled (tiny runs on MSRA-format files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures import depth_formats as fx
from handpose.errors import HandposeError
from handpose.folds import parse_subjects
from training_helpers import TINY_CONFIG, cli, holdout_args


def test_parse_subjects():
    assert parse_subjects(None) == list(range(9))
    assert parse_subjects("0-2,5") == [0, 1, 2, 5]
    for bad in ("9", "a", "3-10"):
        with pytest.raises(HandposeError, match="subjects"):
            parse_subjects(bad)


def test_folds_train_resume_and_pool(tmp_path, rng):
    root = tmp_path / "msra"
    fx.write_msra(root, rng, subjects=range(9), gestures=("1",), frames=2)
    args = holdout_args(
        "folds",
        TINY_CONFIG,
        tmp_path / "runs",
        "m",
        "msra",
        f"data.root={root}",
        "data.center=gt",
        "data.eval_center=gt",
        options=("--subjects", "0,1"),
        val_fraction=0.125,
    )
    assert cli(*args) == 0
    pooled = json.loads((tmp_path / "runs" / "m_folds.json").read_text())
    assert [f["subject"] for f in pooled["folds"]] == [0, 1] and pooled["frames"] == 4
    assert not pooled["complete"] and pooled["missing_subjects"] == [2, 3, 4, 5, 6, 7, 8]
    # Every fold has as many frames here, so the pooled mean is the mean of the fold means.
    assert pooled["mean_error_mm"] == pytest.approx(np.mean([f["mean_error_mm"] for f in pooled["folds"]]))
    lines = (tmp_path / "runs" / "m_folds_uvd.txt").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 63 for line in lines)
    fold0 = json.loads((tmp_path / "runs" / "m_subject0" / "eval" / "report.json").read_text())
    assert (
        fold0["subject"] == 0 and lines[:2] == (tmp_path / "runs" / fold0["predictions_uvd"]).read_text().splitlines()
    )

    # Finished folds are kept; an interrupted one (no summary.json) is resumed from last.ckpt.
    ckpt0 = tmp_path / "runs" / "m_subject0" / "checkpoints" / "last.ckpt"
    stamp = ckpt0.stat().st_mtime_ns
    (tmp_path / "runs" / "m_subject1" / "summary.json").unlink()
    assert cli(*args) == 0
    assert ckpt0.stat().st_mtime_ns == stamp
    assert (tmp_path / "runs" / "m_subject1" / "summary.json").is_file()
    again = json.loads((tmp_path / "runs" / "m_folds.json").read_text())
    assert again["folds"][0] == pooled["folds"][0]

    # Scoring only: the trained folds are pooled, nothing else is trained.
    assert cli(*args[:7], "--subjects", "0-8", "--score-only", *args[9:]) == 0
    assert not (tmp_path / "runs" / "m_subject2").exists()
    assert cli(*args[:7], "--subjects", "0", *args[9:-8], "data.dataset=icvl") == 2
