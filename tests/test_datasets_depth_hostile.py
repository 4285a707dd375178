"""Broken and hostile depth data: one HandposeError line each, no crash, no big allocation, no code run."""

from __future__ import annotations

import pickle
import struct
import zlib

import numpy as np
import pytest
import scipy.io

from fixtures import depth_formats as fx
from handpose.datasets import open_dataset
from handpose.datasets.imageio import png_info, read_depth_png16, read_ho3d_depth, read_nyu_depth
from handpose.datasets.msra import read_msra_depth
from handpose.errors import HandposeError


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def _png16(tmp_path, name="d.png", shape=(240, 320)):
    path = tmp_path / name
    fx.write_png16(path, np.full(shape, 500.0))
    return path


def _set_ihdr_size(data: bytes, width: int, height: int) -> bytes:
    ihdr = bytearray(data[8 : 8 + 25])
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return data[:8] + bytes(ihdr) + data[33:]


def test_truncated_png(tmp_path):
    path = _png16(tmp_path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(HandposeError, match=r"truncated PNG") as exc:
        read_depth_png16(path)
    assert str(path) in _one_line(exc)


def test_not_a_png(tmp_path):
    path = tmp_path / "d.png"
    path.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(HandposeError, match=r"not a PNG"):
        read_depth_png16(path)
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(HandposeError, match=r"empty"):
        read_nyu_depth(tmp_path / "e.png")
    with pytest.raises(HandposeError, match=r"missing"):
        read_depth_png16(tmp_path / "nope.png")


def test_png_header_asking_for_a_billion_pixels(tmp_path):
    path = _png16(tmp_path)
    path.write_bytes(_set_ihdr_size(path.read_bytes(), 31623, 31623))
    with pytest.raises(HandposeError, match=r"31623x31623"):
        read_depth_png16(path)
    path.write_bytes(_set_ihdr_size(path.read_bytes(), 8000, 8000))
    with pytest.raises(HandposeError, match=r"refusing"):
        png_info(path.read_bytes(), path)


def test_png_whose_data_does_not_match_header(tmp_path):
    path = _png16(tmp_path)
    path.write_bytes(_set_ihdr_size(path.read_bytes(), 640, 480))  # claims more rows than the data holds
    with pytest.raises(HandposeError, match=r"PNG"):
        read_depth_png16(path)


def test_wrong_png_kinds(tmp_path):
    grey8 = tmp_path / "g.png"
    fx.write_bgr(grey8, np.zeros((240, 320, 3), np.uint8))
    with pytest.raises(HandposeError, match=r"expected a 16-bit greyscale"):
        read_depth_png16(grey8)
    d16 = _png16(tmp_path)
    with pytest.raises(HandposeError, match=r"expected an 8-bit RGB"):
        read_nyu_depth(d16)
    with pytest.raises(HandposeError, match=r"expected an 8-bit RGB"):
        read_ho3d_depth(d16)
    with pytest.raises(HandposeError, match=r"expected 640x480"):
        read_depth_png16(d16, size=(640, 480))


def _msra(tmp_path, header, floats: int):
    path = tmp_path / "000000_depth.bin"
    path.write_bytes(struct.pack("<6i", *header) + np.ones(floats, "<f4").tobytes())
    return path


@pytest.mark.parametrize(
    ("header", "floats", "message"),
    [
        ((320, 240, 100, 50, 400, 100), 300 * 50, "outside the 320x240 image"),
        ((320, 240, 100, 50, 90, 100), 0, "outside"),
        ((320, 240, -5, 50, 100, 100), 105 * 50, "outside"),
        ((320, 240, 100, 50, 200, 100), 100 * 50 - 1, "declares 5000 float32"),
        ((320, 240, 100, 50, 200, 100), 100 * 50 + 3, "file holds more"),
        ((100000, 10000, 0, 0, 100000, 10000), 10, "100000x10000"),
        ((2**31 - 1, 2**31 - 1, 0, 0, 2**31 - 1, 2**31 - 1), 0, "expected 320x240"),
    ],
)
def test_msra_hostile_headers(tmp_path, header, floats, message):
    path = _msra(tmp_path, header, floats)
    with pytest.raises(HandposeError, match=message) as exc:
        read_msra_depth(path)
    _one_line(exc)


def test_msra_truncated_header_and_nan(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x40\x01\x00\x00")
    with pytest.raises(HandposeError, match=r"truncated"):
        read_msra_depth(path)
    path = _msra(tmp_path, (320, 240, 0, 0, 2, 2), 4)
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<f", float("nan"))
    path.write_bytes(bytes(data))
    with pytest.raises(HandposeError, match=r"not finite"):
        read_msra_depth(path)


def test_bad_label_lines(tmp_path, rng):
    fx.write_icvl(tmp_path, rng)
    labels = tmp_path / "Training/labels.txt"
    lines = labels.read_text().splitlines()
    for bad, message in (
        (" ".join(lines[1].split()[:30]), "expected an image name and 48 numbers, got 30 fields"),
        (lines[1].replace(lines[1].split()[5], "nan", 1), "non-finite"),
        (lines[1].replace(lines[1].split()[5], "12.x", 1), "not a number: '12.x'"),
    ):
        labels.write_text("\n".join([lines[0], bad, lines[2]]) + "\n")
        with pytest.raises(HandposeError, match=message) as exc:
            open_dataset("icvl", tmp_path, "train")
        assert "labels.txt:2:" in _one_line(exc)
    labels.write_text("")
    with pytest.raises(HandposeError, match=r"no lines"):
        open_dataset("icvl", tmp_path, "train")


def test_wrong_layout_says_what_was_expected(tmp_path):
    with pytest.raises(HandposeError, match=r"expected the label file .* at Training/labels.txt"):
        open_dataset("icvl", tmp_path, "train")
    with pytest.raises(HandposeError, match=r"train/joint_data.mat"):
        open_dataset("nyu", tmp_path, "train")
    with pytest.raises(HandposeError, match=r"P1"):
        open_dataset("msra", tmp_path, "test", subject=1)
    with pytest.raises(HandposeError, match=r"training/Training_Annotation.txt"):
        open_dataset("hands2017", tmp_path, "train")
    with pytest.raises(HandposeError, match=r"training_joint_annotation.txt"):
        open_dataset("hands2019", tmp_path, "train")
    with pytest.raises(HandposeError, match=r"evaluation/"):
        open_dataset("ho3d", tmp_path, "evaluation")
    with pytest.raises(HandposeError, match=r"test_bbs.txt"):
        open_dataset("hands2019", tmp_path, "test")
    with pytest.raises(HandposeError, match=r"unknown split"):
        open_dataset("hands2019", tmp_path, "val")


def test_msra_joint_file_problems(tmp_path, rng):
    fx.write_msra(tmp_path, rng, subjects=range(9), gestures=("1",), frames=2)
    joint = tmp_path / "P0/1/joint.txt"
    lines = joint.read_text().splitlines()
    joint.write_text("\n".join(["3", *lines[1:]]) + "\n")
    with pytest.raises(HandposeError, match=r"declares 3 frames but 2"):
        open_dataset("msra", tmp_path, "all")
    joint.write_text("\n".join(["two", *lines[1:]]) + "\n")
    with pytest.raises(HandposeError, match=r"frame count"):
        open_dataset("msra", tmp_path, "all")


def test_nyu_mat_problems(tmp_path):
    (tmp_path / "train").mkdir()
    mat = tmp_path / "train/joint_data.mat"
    mat.write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(HandposeError, match=r"not a readable MATLAB"):
        open_dataset("nyu", tmp_path, "train")
    scipy.io.savemat(str(mat), {"joint_xyz": np.zeros((1, 2, 36, 3))})
    with pytest.raises(HandposeError, match=r"missing variable 'joint_uvd'"):
        open_dataset("nyu", tmp_path, "train")
    scipy.io.savemat(str(mat), {"joint_xyz": np.zeros((1, 2, 14, 3)), "joint_uvd": np.zeros((1, 2, 14, 3))})
    with pytest.raises(HandposeError, match=r"36 x 3"):
        open_dataset("nyu", tmp_path, "train")
    bad = np.ones((1, 2, 36, 3))
    bad[0, 1, 3, 0] = np.nan
    scipy.io.savemat(str(mat), {"joint_xyz": bad, "joint_uvd": np.ones((1, 2, 36, 3))})
    with pytest.raises(HandposeError, match=r"frame 1 is not finite"):
        open_dataset("nyu", tmp_path, "train")


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_ho3d_pickle_that_imports_is_refused(tmp_path, rng, monkeypatch):
    fx.write_ho3d(tmp_path, rng, n_train=2, n_eval=0)
    monkeypatch.chdir(tmp_path)
    meta = next((tmp_path / "train").glob("*/meta/*.pkl"))
    meta.write_bytes(pickle.dumps({"camMat": np.eye(3), "x": _Exploit()}, protocol=2))
    reader = open_dataset("ho3d", tmp_path, "train")
    index = next(i for i in range(len(reader)) if reader.meta_path(i) == meta)
    with pytest.raises(HandposeError, match=r"refusing to load posix.system|refusing to load os.system") as exc:
        reader[index]
    _one_line(exc)
    assert not (tmp_path / "pwned").exists()


def test_ho3d_meta_problems(tmp_path, rng):
    fx.write_ho3d(tmp_path, rng, n_train=1, n_eval=0)
    meta = next((tmp_path / "train").glob("*/meta/*.pkl"))
    cases = [
        ([1, 2, 3], "must hold a dict"),
        ({"handJoints3D": np.zeros((21, 3))}, "no camMat"),
        ({"camMat": np.eye(3), "handJoints3D": np.zeros((20, 3))}, r"shape \(21, 3\)"),
        ({"camMat": np.eye(3), "handJoints3D": np.full((21, 3), np.nan)}, "not finite"),
        ({"camMat": np.eye(3), "handJoints3D": np.full((21, 3), 0.5)}, "in front of the camera"),
    ]
    for content, message in cases:
        meta.write_bytes(pickle.dumps(content, protocol=2))
        with pytest.raises(HandposeError, match=message):
            open_dataset("ho3d", tmp_path, "train")[0]
    meta.write_bytes(pickle.dumps({"camMat": np.eye(3)})[:-5])
    with pytest.raises(HandposeError, match=r"corrupt pickle"):
        open_dataset("ho3d", tmp_path, "train")[0]


def test_centre_file_problems(tmp_path, rng):
    fx.write_icvl(tmp_path, rng)
    (tmp_path / "c.txt").write_text("1 2 3\n4 5\n")
    with pytest.raises(HandposeError, match=r"c.txt:2: expected 3 numbers"):
        open_dataset("icvl", tmp_path, "train", centers=tmp_path / "c.txt")
    (tmp_path / "c.txt").write_text("1 2 3\n")
    with pytest.raises(HandposeError, match=r"1 entries but the split has 3 frames"):
        open_dataset("icvl", tmp_path, "train", centers=tmp_path / "c.txt")
    scipy.io.savemat(str(tmp_path / "c.mat"), {"centre_pixel": np.zeros((3, 2))})
    with pytest.raises(HandposeError, match=r"N x 1 x 3"):
        open_dataset("icvl", tmp_path, "train", centers=tmp_path / "c.mat")


def test_label_table_blocks_keep_line_numbers(tmp_path, monkeypatch):
    from handpose.datasets import labeltext

    monkeypatch.setattr(labeltext, "_BLOCK_VALUES", 6)  # a block every two lines
    rows = [f"img{i}.png {i} {i + 0.5} {-i}" for i in range(7)]
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(rows) + "\n")
    names, values = labeltext.read_label_table(path, 3)
    assert names[6] == "img6.png" and values.shape == (7, 3) and values[5].tolist() == [5, 5.5, -5]
    rows[5] = "img5.png 5 five 5"
    path.write_text("\n\n".join(rows) + "\n")  # blank lines between: line numbers are not row numbers
    with pytest.raises(HandposeError, match=r"labels\.txt:11: not a number: 'five'"):
        labeltext.read_label_table(path, 3)


def test_mat_zip_bomb_is_refused_before_scipy(tmp_path, monkeypatch):
    from handpose.datasets import matfile

    path = tmp_path / "joint_data.mat"
    scipy.io.savemat(str(path), {"joint_xyz": np.zeros((1, 400, 36, 3))}, do_compression=True)
    assert path.stat().st_size < 20_000  # zeros compress ~100x
    monkeypatch.setattr(matfile, "MAX_MAT_INFLATED_BYTES", 100_000)
    with pytest.raises(HandposeError, match=r"inflate to more than"):
        matfile.load_mat(path)
    scipy.io.savemat(str(path), {"joint_xyz": np.zeros((1, 400, 36, 3))}, do_compression=False)
    with pytest.raises(HandposeError, match=r"declare more than"):
        matfile.load_mat(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[:200]))
    with pytest.raises(HandposeError):
        matfile.load_mat(path)


def test_png_with_endless_chunks(tmp_path):
    path = _png16(tmp_path)
    data = path.read_bytes()
    filler = struct.pack(">I4s", 0, b"tEXt") + struct.pack(">I", zlib.crc32(b"tEXt"))
    path.write_bytes(data[:33] + filler * 120_000 + data[33:])
    with pytest.raises(HandposeError, match=r"more than 100000 chunks"):
        read_depth_png16(path)
