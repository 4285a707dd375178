"""Real-format round trips: train a few steps -> evaluate --checkpoint -> public uvd file -> evaluate PRED.

Each dataset is written in its published on-disk format (tests/fixtures), a tiny CrossInfoNet trains
two steps on it through ``handpose train``, ``handpose evaluate --checkpoint`` writes the public
table's prediction file (one line per test frame, J x ``u v d``), and ``handpose evaluate PRED
--dataset ... --gt ...`` scores that file against a ground-truth file in the public layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import depth_formats as fx
from handpose.geometry import CAMERAS, xyz_to_uvd
from handpose.skeleton import NYU14_FROM_NYU36
from training_helpers import TINY_CONFIG, cli, holdout_args


def _train(tmp_path: Path, dataset: str, root: Path, *extra: str) -> Path:
    args = holdout_args(
        "train",
        TINY_CONFIG,
        tmp_path / "runs",
        dataset,
        dataset,
        f"data.root={root}",
        "data.center=gt",
        "data.eval_center=gt",
        *extra,
    )
    assert cli(*args) == 0
    return tmp_path / "runs" / dataset / "checkpoints" / "last.ckpt"


def _round_trip(tmp_path: Path, ckpt: Path, dataset: str, root: Path, gt_uvd: np.ndarray, *extra: str) -> dict:
    """Evaluate the checkpoint, then score its public-format file; returns both reports."""
    report_path = tmp_path / "eval" / "report.json"
    assert (
        cli("evaluate", "--checkpoint", ckpt, "--dataset", dataset, "--root", root, "--json", report_path, *extra) == 0
    )
    report = json.loads(report_path.read_text())
    pred = Path(report["predictions_uvd"])
    lines = pred.read_text().splitlines()
    joints = gt_uvd.shape[1]
    assert len(lines) == len(gt_uvd) and all(len(line.split()) == joints * 3 for line in lines)
    gt_file = tmp_path / "gt.txt"
    fx.write_public_uvd(gt_file, gt_uvd)
    scores_path = tmp_path / "scores.json"
    assert cli("evaluate", pred, "--dataset", dataset, "--gt", gt_file, "--json", scores_path) == 0
    scores = json.loads(scores_path.read_text())["results"][0]
    assert scores["frames"] == len(gt_uvd) and len(scores["per_joint_mm"]) == joints
    # The file says what the model predicted: both routes give the same errors.
    assert scores["mean_error_mm"] == pytest.approx(report["mean_error_mm"], abs=0.05)
    return {"report": report, "scores": scores}


def test_nyu_round_trip_scores_14_joints(tmp_path, rng):
    root = tmp_path / "nyu"
    truth = fx.write_nyu(root, rng, n_train=8, n_test=5, test_images=range(5))
    ckpt = _train(tmp_path, "nyu", root)
    gt_uvd = xyz_to_uvd(truth["test"][:, list(NYU14_FROM_NYU36)], CAMERAS["nyu"])
    out = _round_trip(tmp_path, ckpt, "nyu", root, gt_uvd)
    assert out["report"]["skeleton"] == "nyu14" and len(out["report"]["per_joint_mm"]) == 14
    # Test-time centres from an A2J-format file: the crops follow the file, not the labels.
    centres = gt_uvd.mean(axis=1) + np.array([25.0, -15.0, 40.0])
    fx.write_a2j_centers(tmp_path / "nyu_center_test.mat", centres)
    report_path = tmp_path / "centred.json"
    args = ("--dataset", "nyu", "--root", root, "--json", report_path, "--centers", tmp_path / "nyu_center_test.mat")
    assert cli("evaluate", "--checkpoint", ckpt, *args) == 0
    centred = json.loads(report_path.read_text())
    assert centred["centers"].endswith("nyu_center_test.mat")
    assert centred["mean_error_mm"] != pytest.approx(out["report"]["mean_error_mm"], abs=1e-3)
    fx.write_a2j_centers(tmp_path / "short.mat", centres[:3])
    assert cli("evaluate", "--checkpoint", ckpt, *args[:-1], tmp_path / "short.mat") == 2


def test_icvl_round_trip_scores_16_joints(tmp_path, rng):
    root = tmp_path / "icvl"
    truth = fx.write_icvl(root, rng, n_train=8, n_test=(2, 2))
    ckpt = _train(tmp_path, "icvl", root)
    gt_uvd = np.stack([uvd for _, uvd, _ in truth["test"]])
    out = _round_trip(tmp_path, ckpt, "icvl", root, gt_uvd)
    assert out["report"]["skeleton"] == "icvl16"


def test_msra_fold_round_trip_scores_the_held_out_subject(tmp_path, rng):
    root = tmp_path / "msra"
    truth = fx.write_msra(root, rng, subjects=range(9), gestures=("1",), frames=2)
    ckpt = _train(tmp_path, "msra", root, "data.subject=3", "data.val_fraction=0.125")
    gt_xyz = np.stack([truth[(3, "1", i)][0] for i in range(2)])
    out = _round_trip(tmp_path, ckpt, "msra", root, xyz_to_uvd(gt_xyz, CAMERAS["msra"]))
    # The checkpoint's own fold is the default; data.subject=K picks another.
    assert out["report"]["subject"] == 3 and out["report"]["frames"] == 2
    other = tmp_path / "other.json"
    assert (
        cli("evaluate", "--checkpoint", ckpt, "--dataset", "msra", "--root", root, "--json", other, "data.subject=5")
        == 0
    )
    assert json.loads(other.read_text())["subject"] == 5
    # A model that records no fold is never scored on a guessed subject.
    from handpose.errors import HandposeError
    from handpose.model_evaluation import EvaluationRequest, evaluate_model
    from training_helpers import tiny_run

    with pytest.raises(HandposeError, match="--subject K"):
        evaluate_model(EvaluationRequest(model=tiny_run().best, dataset="msra", root=root, progress=False))


def test_a2j_centre_files_drive_the_nyu_and_icvl_crops(tmp_path, rng):
    """A2J's published test centres, read by the readers and used by the evaluation crop."""
    from conftest import require_shared
    from handpose.datasets import open_dataset
    from handpose.datasets.centers import load_a2j_centers
    from handpose.transforms.depth import DepthCropTransform

    nyu_file = require_shared("a2j", "data", "nyu", "nyu_center_test.mat")
    icvl_file = require_shared("a2j", "data", "icvl", "icvl_center_test.mat")
    nyu = tmp_path / "nyu"
    fx.write_nyu(nyu, rng, n_train=1, n_test=8252, test_images=(0, 8251))
    reader = open_dataset("nyu", nyu, "test", centers=nyu_file)
    expected = CAMERAS["nyu"].uvd_to_xyz(load_a2j_centers(nyu_file))
    tf = DepthCropTransform(cube=250.0, out_size=32, center="given")
    for i in (0, 8251):
        np.testing.assert_allclose(reader[i].center_xyz, expected[i])
        np.testing.assert_allclose(tf(reader[i])["center_xyz"], expected[i], atol=1e-6)
    icvl = tmp_path / "icvl"
    fx.write_icvl(icvl, rng, n_train=1, n_test=(702, 894))
    reader = open_dataset("icvl", icvl, "test", centers=icvl_file)
    np.testing.assert_allclose(reader[1595].center_xyz, CAMERAS["icvl"].uvd_to_xyz(load_a2j_centers(icvl_file)[1595]))


def test_server_scored_splits_write_their_submissions(tmp_path, rng):
    from handpose.evaluation.submission import read_pred_json

    h19 = tmp_path / "h19"
    fx.write_hands2019(h19, rng, n=8, n_test=2)
    # As the configs do: test crops centred from the depth (here the hand box), never from labels.
    ckpt = _train(tmp_path, "hands2019", h19, "data.eval_center=com")
    out = tmp_path / "h19.json"
    assert (
        cli("evaluate", "--checkpoint", ckpt, "--dataset", "hands2019", "--root", h19, "--split", "test", "--json", out)
        == 0
    )
    report = json.loads(out.read_text())
    assert report["scored"] is False and report["frames"] == 2
    lines = Path(report["submission"]).read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["IMG_D00000000.png", "IMG_D00000001.png"]
    assert all(len(line.split("\t")) == 64 for line in lines)

    ho3d = tmp_path / "ho3d"
    fx.write_ho3d(ho3d, rng, n_train=8, n_eval=2)
    ckpt = _train(tmp_path, "ho3d", ho3d, "data.eval_center=com")
    out = tmp_path / "ho3d.json"
    assert (
        cli(
            "evaluate",
            "--checkpoint",
            ckpt,
            "--dataset",
            "ho3d",
            "--root",
            ho3d,
            "--split",
            "evaluation",
            "--json",
            out,
        )
        == 0
    )
    report = json.loads(out.read_text())
    xyz, _ = read_pred_json(report["submission"])
    assert xyz.shape == (2, 21, 3) and (xyz[..., 2] < 0).all()  # metres, OpenGL axes
