"""Joint-file readers and the evaluator on tiny synthetic files (no shared data needed)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from handpose.errors import HandposeError
from handpose.evaluation import evaluator, formats
from handpose.geometry import uvd_to_xyz

J = 16  # ICVL
ICVL = evaluator.get_benchmark("icvl")


def _uvd(rng: np.random.Generator, frames: int = 4) -> np.ndarray:
    uvd = np.empty((frames, J, 3))
    uvd[..., 0] = rng.uniform(100, 220, (frames, J))
    uvd[..., 1] = rng.uniform(60, 180, (frames, J))
    uvd[..., 2] = rng.uniform(300, 420, (frames, J))
    return uvd


def _write_rows(path: Path, rows: np.ndarray, names: list[str] | None = None, sep: str = " ") -> Path:
    lines = []
    for i, row in enumerate(rows.reshape(len(rows), -1)):
        cells = [f"{v:.4f}" for v in row]
        lines.append(sep.join(([names[i]] if names else []) + cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def gt_file(tmp_path, rng) -> tuple[Path, np.ndarray]:
    uvd = np.round(_uvd(rng), 4)
    return _write_rows(tmp_path / "gt.txt", uvd), uvd


def test_uvd_text_roundtrip(gt_file):
    path, uvd = gt_file
    f = formats.read_joints(path, J)
    assert f.container == "text" and f.space is None
    np.testing.assert_allclose(f.joints, uvd)


def test_named_text_with_tabs_and_backslashes(tmp_path, rng):
    xyz = np.round(rng.normal(size=(3, J, 3)) * 50, 4)
    names = [f"test_seq_1\\image_{i:04d}.png" for i in range(3)]
    path = _write_rows(tmp_path / "pred_ori.txt", xyz, names, sep="\t")
    f = formats.read_joints(path, J)
    assert f.container == "named text"
    np.testing.assert_allclose(f.joints, xyz)


def test_mat_v5_v73_npy_npz(tmp_path, rng):
    xyz = rng.normal(size=(5, J, 3))
    scipy.io.savemat(tmp_path / "a.mat", {"joint_est_wld_xyz": xyz})
    f = formats.read_joints(tmp_path / "a.mat", J)
    assert f.container == "mat:joint_est_wld_xyz" and f.space == "xyz"
    np.testing.assert_allclose(f.joints, xyz)

    # MATLAB v7.3 is HDF5 behind a 512-byte header, arrays stored with their axes reversed.
    v73 = tmp_path / "b.mat"
    with h5py.File(v73, "w", userblock_size=512) as h:
        h.create_dataset("xyz_estimation", data=xyz.T)
    with open(v73, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")
    f = formats.read_joints(v73, J)
    assert f.container == "mat:xyz_estimation"
    np.testing.assert_allclose(f.joints, xyz)

    np.save(tmp_path / "c.npy", xyz.reshape(5, J * 3))
    np.testing.assert_allclose(formats.read_joints(tmp_path / "c.npy", J).joints, xyz)
    np.savez(tmp_path / "d.npz", pred_uvd=xyz, other=np.zeros(3))
    f = formats.read_joints(tmp_path / "d.npz", J)
    assert f.container == "npz:pred_uvd" and f.space == "uvd"


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ("1 2 3\n", 1, "expected 48 values"),
        ("{row}\n{row} 7\n", 2, "found 49"),
        ("{row}\n{bad_token}\n", 2, "non-numeric value 'x'"),
        ("{row}\n{nan}\n", 2, "nan in column 5"),
    ],
)
def test_bad_text_names_file_and_line(tmp_path, content, line, fragment):
    row = " ".join(["1.0"] * (J * 3))
    bad_token = " ".join(["1.0"] * 3 + ["x"] + ["1.0"] * (J * 3 - 4))
    nan = " ".join(["1.0"] * 4 + ["nan"] + ["1.0"] * (J * 3 - 5))
    path = tmp_path / "bad.txt"
    path.write_text(content.format(row=row, bad_token=bad_token, nan=nan))
    with pytest.raises(HandposeError) as info:
        formats.read_joints(path, J)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and fragment in message and "\n" not in message


def test_named_line_without_values_is_reported(tmp_path):
    row = "\t".join(["1.5"] * (J * 3))
    path = tmp_path / "named.txt"
    path.write_text(f"a.png\t{row}\nb.png\nc.png\t{row}\n")
    with pytest.raises(HandposeError, match=r"named.txt:2: expected 48 values after the image name .* found 0"):
        formats.read_joints(path, J)


def test_msra_benchmark_uses_21_joints(tmp_path, rng):
    uvd = np.round(np.concatenate([_uvd(rng), _uvd(rng)[:, :5]], axis=1), 4)  # 21 joints
    gt = evaluator.load_ground_truth(_write_rows(tmp_path / "msra_gt.txt", uvd), "msra")
    pred = _write_rows(tmp_path / "msra_pred.txt", uvd + np.array([0.0, 0.0, 3.0]))
    r = evaluator.evaluate_prediction(pred, gt)
    assert r.errors.shape == (4, 21) and r.read_as == "text, uvd"
    assert r.mean_error_mm > 3.0  # depth +3 mm, and x, y move with it


def test_blank_lines_are_skipped_and_counted(tmp_path):
    row = " ".join(["1.0"] * (J * 3))
    path = tmp_path / "gaps.txt"
    path.write_text(f"{row}\n\n{row}\n\n1 2\n")
    with pytest.raises(HandposeError, match=r":5: expected 48 values"):
        formats.read_joints(path, J)
    path.write_text(f"{row}\n\n{row}\n")
    assert formats.read_joints(path, J).frames == 2


def test_missing_empty_and_wrong_array_files(tmp_path):
    with pytest.raises(HandposeError, match="no such file"):
        formats.read_joints(tmp_path / "nope.txt", J)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(HandposeError, match="empty"):
        formats.read_joints(tmp_path / "empty.txt", J)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 5, 3)))
    with pytest.raises(HandposeError, match="no array of 16 joints"):
        formats.read_joints(tmp_path / "wrong.npy", J)
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(HandposeError, match=r"junk\.mat: not a MATLAB file"):
        formats.read_joints(tmp_path / "junk.mat", J)
    np.save(tmp_path / "nan.npy", np.full((2, J, 3), np.nan))
    with pytest.raises(HandposeError, match="NaN"):
        formats.read_joints(tmp_path / "nan.npy", J)


def test_auto_reads_uvd_xyz_and_y_up_xyz(tmp_path, gt_file):
    gt_path, uvd = gt_file
    gt = evaluator.load_ground_truth(gt_path, "icvl")
    pred_uvd = uvd + 1.0
    xyz = uvd_to_xyz(pred_uvd, ICVL.camera)
    expected = np.linalg.norm(xyz - gt.xyz, axis=-1).mean()
    files = {
        "uvd.txt": (_write_rows(tmp_path / "uvd.txt", pred_uvd), "text, uvd"),
        "xyz.npy": (tmp_path / "xyz.npy", "npy, xyz"),
        "yup.mat": (tmp_path / "yup.mat", "mat:xyz_estimation, xyz (y flipped)"),
    }
    np.save(tmp_path / "xyz.npy", xyz)
    scipy.io.savemat(tmp_path / "yup.mat", {"xyz_estimation": xyz * np.array([1.0, -1.0, 1.0])})
    for path, read_as in files.values():
        r = evaluator.evaluate_prediction(path, gt)
        assert r.read_as == read_as
        assert r.mean_error_mm == pytest.approx(expected, abs=1e-3)  # text keeps 4 decimals
    forced = evaluator.evaluate_prediction(tmp_path / "xyz.npy", gt, fmt="uvd")
    assert forced.mean_error_mm > 100


def test_joint_order_and_frame_count(tmp_path, gt_file):
    gt_path, uvd = gt_file
    gt = evaluator.load_ground_truth(gt_path, "icvl")
    order = np.roll(np.arange(J), 3)
    shuffled = np.empty_like(uvd)
    shuffled[:, order] = uvd  # GT joint k sits at column order[k] of the file
    path = _write_rows(tmp_path / "shuffled.txt", shuffled)
    assert evaluator.evaluate_prediction(path, gt).mean_error_mm > 1
    fixed = evaluator.evaluate_prediction(
        path, gt, joint_order=evaluator.parse_joint_order(",".join(map(str, order)), J)
    )
    assert fixed.mean_error_mm == pytest.approx(0.0, abs=1e-9)
    short = _write_rows(tmp_path / "short.txt", uvd[:2])
    with pytest.raises(HandposeError, match=r"short.txt: 2 frames, but the ground truth .* has 4"):
        evaluator.evaluate_prediction(short, gt)
    with pytest.raises(HandposeError, match="permutation"):
        evaluator.parse_joint_order("0,1,2", J)
    with pytest.raises(HandposeError, match="comma-separated"):
        evaluator.parse_joint_order("0;1", J)


def test_method_names_are_readable():
    assert evaluator.method_name("results/nyu/CVPR18_NYU_HandPointNet.txt", "nyu") == "HandPointNet (CVPR18)"
    assert evaluator.method_name("CVPR18_ICVL_denseReg_ori.txt", "icvl") == "denseReg_ori (CVPR18)"
    assert evaluator.method_name("ArXiv_ICVL_TriHorn_Net.txt", "icvl") == "TriHorn_Net (ArXiv)"
    assert evaluator.method_name("WACV19_NYU_murauer_n72757_uvd.txt", "nyu") == "murauer_n72757 (WACV19)"
    assert evaluator.method_name("mine.npy", "nyu") == "mine"


def test_results_are_sorted_and_json_shaped(tmp_path, gt_file):
    gt_path, uvd = gt_file
    gt = evaluator.load_ground_truth(gt_path, "icvl")
    bad = _write_rows(tmp_path / "bad_method.txt", uvd + 5.0)
    good = _write_rows(tmp_path / "good_method.txt", uvd + 0.5)
    results = evaluator.evaluate_predictions([str(bad), str(good)], gt)
    assert [r.method for r in results] == ["good_method", "bad_method"]
    doc = evaluator.results_json(gt, results)
    assert doc["dataset"] == "icvl"
    entry = doc["results"][0]
    assert entry["prediction"] == str(good) and entry["frames"] == 4 and len(entry["per_joint_mm"]) == J
    assert entry["success_rate"]["thresholds_mm"] == list(range(81))
    assert len(entry["success_rate"]["max_error"]) == 81 and entry["success_rate"]["max_error"][-1] == 1.0


def test_plain_decimal_parser_equals_float_and_declines_the_rest(rng):
    values = rng.uniform(-2000, 2000, size=(50, 6))
    decimals = rng.integers(1, 10, size=values.shape)
    lines = [" \t".join(f"{v:.{d}f}" for v, d in zip(row, ds)) for row, ds in zip(values, decimals)]
    text = ("\r\n".join(lines) + "\n\n").encode()
    parsed = formats.parse_plain_decimals(text, 6)
    expected = np.array([[float(t) for t in line.split()] for line in lines])
    assert parsed is not None and np.array_equal(parsed, expected)  # bit-for-bit, like float()
    for other in (b"1.5 2\n", b"1.5 nan\n", b"1e-05 2.5\n", b"1.5-2.5 3.5\n", b"--1.5 2.5\n", b".5 1.5\n", b"5. 1.5\n"):
        assert formats.parse_plain_decimals(other, 2) is None, other
    assert formats.parse_plain_decimals(b"1.5 2.5\n3.5\n", 2) is None
    assert formats.parse_plain_decimals(b"1.5 2.5 3.5 4.5\n", 2) is None  # two rows' worth on one line


def test_integers_and_exponents_read_through_the_general_reader(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("1.5 2 3.25\n-4 5.5e1 6\n")
    np.testing.assert_array_equal(formats.read_joints(path, 1).joints, [[[1.5, 2, 3.25]], [[-4, 55, 6]]])
