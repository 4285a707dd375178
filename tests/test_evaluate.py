"""``handpose evaluate`` against the published tables (shared data) and through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import require_shared
from handpose.cli import main
from handpose.evaluation import evaluator
from handpose.geometry import get_camera, uvd_to_xyz

AWESOME = ("awesome-eval",)
GT_FILES = {
    "icvl": ("groundtruth", "icvl", "icvl_test_groundtruth_label.txt"),
    "nyu": ("groundtruth", "nyu", "nyu_test_groundtruth_label.txt"),
}
LIEX_ORDER = "11,10,9,8,7,6,5,4,3,2,1,12,13,0"

# Published means (mm, rounded to 3 decimals) and the files that produced them.
PUBLISHED = [
    ("icvl", ("a2j", "result_nyu_icvl", "icvl_646_epoch12_UVD.txt"), 6.461),
    ("icvl", ("awesome-eval", "results", "icvl", "NEUCOM18_ICVL_Pose_REN.txt"), 6.791),
    ("icvl", ("awesome-eval", "results", "icvl", "CVPR18_ICVL_HandPointNet.txt"), 6.935),
    ("nyu", ("a2j", "result_nyu_icvl", "nyu_861_epoch32_UVD.txt"), 8.610),
    ("nyu", ("awesome-eval", "results", "nyu", "NEUCOM18_NYU_Pose_REN.txt"), 11.811),
    ("nyu", ("awesome-eval", "results", "nyu", "ICCVW17_NYU_DeepPrior++.txt"), 12.238),
    ("nyu", ("awesome-eval", "results", "nyu", "CVPR18_NYU_HandPointNet.txt"), 10.540),
]

# xyz files (name column, .mat, permuted text) and their uvd twins.
TWINS = [
    ("icvl", "CVPR18_ICVL_denseReg_ori.txt", "CVPR18_ICVL_denseReg.txt", None),
    ("nyu", "CVPR18_NYU_denseReg_ori.txt", "CVPR18_NYU_denseReg.txt", None),
    ("nyu", "IJCV16_NYU_LieX_ori.txt", "IJCV16_NYU_LieX.txt", LIEX_ORDER),
    ("icvl", "CVPR18_ICVL_HandPointNet_ori.mat", "CVPR18_ICVL_HandPointNet.txt", None),
    ("icvl", "ECCV18_ICVL_Point-to-Point_ori.mat", "ECCV18_ICVL_Point-to-Point.txt", None),
    ("nyu", "ECCV18_NYU_Point-to-Point_ori.mat", "ECCV18_NYU_Point-to-Point.txt", None),
    ("nyu", "CVPR18_NYU_HandPointNet_ori.mat", "CVPR18_NYU_HandPointNet.txt", None),
    ("nyu", "CVPR17_NYU_3DCNN_ori.mat", "CVPR17_NYU_3DCNN.txt", None),
]

_GT_CACHE: dict[str, evaluator.GroundTruth] = {}


def _gt(dataset: str) -> evaluator.GroundTruth:
    if dataset not in _GT_CACHE:
        _GT_CACHE[dataset] = evaluator.load_ground_truth(require_shared(*AWESOME, *GT_FILES[dataset]), dataset)
    return _GT_CACHE[dataset]


@pytest.mark.parametrize(("dataset", "parts", "published"), PUBLISHED, ids=[p[1][-1] for p in PUBLISHED])
def test_reproduces_published_mean_error(dataset, parts, published):
    result = evaluator.evaluate_prediction(require_shared(*parts), _gt(dataset))
    # Exact value first; the published one is it rounded to 3 decimals.
    assert result.read_as == "text, uvd"
    assert abs(result.mean_error_mm - published) <= 0.0005 + 1e-9, result.mean_error_mm


def test_a2j_success_rates_match_the_notes():
    nyu = evaluator.evaluate_prediction(require_shared("a2j", "result_nyu_icvl", "nyu_861_epoch32_UVD.txt"), _gt("nyu"))
    # Fractions of frames with every joint within 20/30/40/50/80 mm, as recomputed in the protocol notes.
    expected = {20: 0.706, 30: 0.852, 40: 0.909, 50: 0.946, 80: 0.987}
    for t, fraction in expected.items():
        assert nyu.success_max[t] == pytest.approx(fraction, abs=0.0005)
    # Frames 0-2439 (one subject) and the rest, as in the notes: 4.98 and 10.14 mm.
    assert nyu.errors[:2440].mean() == pytest.approx(4.98, abs=0.005)
    assert nyu.errors[2440:].mean() == pytest.approx(10.14, abs=0.005)


@pytest.mark.parametrize(("dataset", "xyz_file", "uvd_file", "order"), TWINS, ids=[t[1] for t in TWINS])
def test_xyz_files_score_like_their_uvd_twins(dataset, xyz_file, uvd_file, order):
    folder = require_shared(*AWESOME, "results", dataset)
    gt = _gt(dataset)
    joint_order = evaluator.parse_joint_order(order, gt.benchmark.num_joints) if order else None
    xyz = evaluator.evaluate_prediction(folder / xyz_file, gt, joint_order=joint_order)
    uvd = evaluator.evaluate_prediction(folder / uvd_file, gt)
    assert "xyz" in xyz.read_as
    assert abs(xyz.mean_error_mm - uvd.mean_error_mm) < 0.001
    np.testing.assert_allclose(xyz.per_joint_mm, uvd.per_joint_mm, atol=0.002)


def test_y_direction_of_xyz_files_is_detected():
    folder = require_shared(*AWESOME, "results", "nyu")
    gt = _gt("nyu")
    # denseReg's NYU xyz is y-down like handpose; the .mat files and Lie-X are y-up like the table's fy < 0.
    assert evaluator.evaluate_prediction(folder / "CVPR18_NYU_denseReg_ori.txt", gt).read_as == "named text, xyz"
    mat = evaluator.evaluate_prediction(folder / "CVPR18_NYU_HandPointNet_ori.mat", gt)
    assert mat.read_as == "mat:xyz_estimation, xyz (y flipped)"
    unflipped = evaluator.evaluate_prediction(folder / "CVPR18_NYU_HandPointNet_ori.mat", gt, fmt="xyz")
    assert unflipped.mean_error_mm == pytest.approx(mat.mean_error_mm)  # --format xyz still checks the sign


def test_nyu_table_frame_and_y_down_frame_give_the_same_distances():
    gt_uvd = np.loadtxt(require_shared(*AWESOME, *GT_FILES["nyu"]), max_rows=200).reshape(-1, 14, 3)
    pred_uvd = np.loadtxt(require_shared(*AWESOME, "results", "nyu", "NEUCOM18_NYU_Pose_REN.txt"), max_rows=200)
    pred_uvd = pred_uvd.reshape(-1, 14, 3)
    table = get_camera("nyu_eval")
    assert table.fy < 0
    as_table = np.linalg.norm(uvd_to_xyz(pred_uvd, table) - uvd_to_xyz(gt_uvd, table), axis=-1)
    ours = np.linalg.norm(uvd_to_xyz(pred_uvd, table.y_down()) - uvd_to_xyz(gt_uvd, table.y_down()), axis=-1)
    np.testing.assert_allclose(ours, as_table, rtol=0, atol=1e-9)


def test_a2j_mat_ground_truth_matches_the_text_one():
    # A2J ships the same NYU labels as MATLAB (key keypoints3D, uvd) with more decimals than the text table.
    gt = evaluator.load_ground_truth(require_shared("a2j", "data", "nyu", "nyu_keypointsUVD_test.mat"), "nyu")
    np.testing.assert_allclose(gt.xyz, _gt("nyu").xyz, atol=0.002)
    result = evaluator.evaluate_prediction(require_shared("a2j", "result_nyu_icvl", "nyu_861_epoch32_UVD.txt"), gt)
    assert abs(result.mean_error_mm - 8.610) <= 0.0005


def test_icvl_test_seq_1_ground_truth_with_names():
    gt = evaluator.load_ground_truth(require_shared(*AWESOME, "groundtruth", "icvl", "test_seq_1.txt"), "icvl")
    assert gt.frames == 702
    np.testing.assert_allclose(gt.xyz, _gt("icvl").xyz[:702])
    prior = require_shared(*AWESOME, "results", "icvl", "CVWW15_ICVL_Prior.txt")
    assert evaluator.evaluate_prediction(prior, gt).frames == 702


def test_cli_json_table_and_plots(tmp_path, capsys):
    folder = require_shared(*AWESOME, "results", "icvl")
    preds = [str(folder / "CVPR18_ICVL_denseReg_ori.txt"), str(folder / "NEUCOM18_ICVL_Pose_REN.txt")]
    out = tmp_path / "scores.json"
    argv = ["evaluate", *preds, "--dataset", "icvl", "--gt", str(require_shared(*AWESOME, *GT_FILES["icvl"]))]
    assert main([*argv, "--json", str(out), "--plot", str(tmp_path / "figs")]) == 0
    table = capsys.readouterr().out
    assert table.index("Pose_REN") < table.index("denseReg_ori")  # sorted by mean error
    doc = json.loads(out.read_text())
    assert doc["dataset"] == "icvl" and [r["prediction"] for r in doc["results"]] == preds[::-1]
    first = doc["results"][0]
    assert set(first) >= {"prediction", "method", "frames", "mean_error_mm", "median_error_mm", "per_joint_mm"}
    assert first["frames"] == 1596 and round(first["mean_error_mm"], 3) == 6.791
    assert set(first["success_rate"]) == {"thresholds_mm", "max_error"}
    for name in ("success_rate_icvl.png", "per_joint_icvl.png"):
        png = tmp_path / "figs" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "handpose", "evaluate", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    gt = require_shared(*AWESOME, *GT_FILES["nyu"])
    lines = gt.read_text().splitlines()
    broken = tmp_path / "broken.txt"
    tokens = lines[3].split()
    tokens[7] = "nan"
    broken.write_text("\n".join([*lines[:3], " ".join(tokens), *lines[4:]]) + "\n")
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:100]) + "\n")
    cases = [
        (short, f"{short}: 100 frames, but the ground truth"),
        (tmp_path / "missing.txt", f"{tmp_path / 'missing.txt'}: no such file"),
    ]
    for pred, expected in cases:
        assert main(["evaluate", str(pred), "--dataset", "nyu", "--gt", str(gt)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    # Once as a real process: the exit status and stderr a shell sees.
    done = _run_cli(str(broken), "--dataset", "nyu", "--gt", str(gt))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{broken}:4: nan in column 8" in done.stderr, done.stderr


def test_cli_checkpoint_mode_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.ckpt"), "--dataset", "nyu", "--root", "."]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.ckpt" in err
    assert main(["evaluate", "p.txt", "--checkpoint", "x.ckpt", "--dataset", "nyu", "--root", "."]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_help_lists_the_interface(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--gt", "--format", "--joint-order", "--json", "--plot", "--checkpoint", "--root"):
        assert option in text


def test_cli_reads_a_file_given_relative_to_the_working_dir(tmp_path, monkeypatch, capsys):
    gt = require_shared(*AWESOME, *GT_FILES["icvl"])
    pred = Path(tmp_path / "mine.npy")
    np.save(pred, np.loadtxt(gt).reshape(-1, 16, 3) + 1.0)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "mine.npy", "--dataset", "icvl", "--gt", str(gt), "--json", "o.json"]) == 0
    result = json.loads((tmp_path / "o.json").read_text())["results"][0]
    assert result["prediction"] == "mine.npy" and result["method"] == "mine"
    assert 1.0 < result["mean_error_mm"] < 3.0
