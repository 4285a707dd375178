"""Hostile input to the RGB readers: one clear HandposeError line naming the file, never code execution."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from fixtures import rgb_formats as fx
from handpose.datasets import open_dataset
from handpose.errors import HandposeError


def _raises(match: str, fn, *args, **kwargs) -> HandposeError:
    with pytest.raises(HandposeError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


def _rhd_anno(tmp_path: Path) -> Path:
    return tmp_path / "evaluation" / "anno_evaluation.pickle"


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_rhd_pickle_that_imports_code_is_refused_and_not_run(tmp_path, rng):
    fx.write_rhd(tmp_path, rng, count=1)
    marker = tmp_path / "pwned"
    _rhd_anno(tmp_path).write_bytes(pickle.dumps({0: {"xyz": _Exploit(marker)}}))
    err = _raises("unsafe or corrupt pickle", open_dataset, "rhd", tmp_path, "test")
    assert "anno_evaluation.pickle" in str(err)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda a: a[0].pop("K"), "sample 0: missing key 'K'"),
        (lambda a: a[0].__setitem__("xyz", np.zeros((21, 3))), r"expected shape \(42, 3\)"),
        (lambda a: a[0].__setitem__("uv_vis", "not numbers"), "not a numeric array"),
        (lambda a: a[0].__setitem__("xyz", a[0]["xyz"] * 1000), "already millimetres"),
        (lambda a: a.__setitem__("seven", a[0]), "not a non-negative integer"),
    ],
)
def test_rhd_bad_annotations(tmp_path, rng, edit, match):
    fx.write_rhd(tmp_path, rng, count=1)
    anno = pickle.loads(_rhd_anno(tmp_path).read_bytes())
    edit(anno)
    _rhd_anno(tmp_path).write_bytes(pickle.dumps(anno))
    _raises(match, open_dataset, "rhd", tmp_path, "test")


def test_rhd_pickle_of_the_wrong_container(tmp_path, rng):
    fx.write_rhd(tmp_path, rng, count=1)
    _rhd_anno(tmp_path).write_bytes(pickle.dumps([1, 2, 3]))
    _raises("expected a non-empty dict", open_dataset, "rhd", tmp_path, "test")
    _rhd_anno(tmp_path).write_bytes(b"\x80\x04garbage")
    _raises("pickle", open_dataset, "rhd", tmp_path, "test")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_images(tmp_path, rng, damage):
    fx.write_rhd(tmp_path, rng, count=1)
    path = tmp_path / "evaluation" / "color" / "00000.png"
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a png at all", "truncated": data[: len(data) // 3], "empty": b""}[damage])
    reader = open_dataset("rhd", tmp_path, "test")
    err = _raises("image", reader.__getitem__, 0)
    assert "00000.png" in str(err)


def test_missing_files_and_folders(tmp_path, rng):
    _raises("not a folder", open_dataset, "rhd", tmp_path / "nowhere", "test")
    _raises("no evaluation/ folder", open_dataset, "rhd", tmp_path, "test")
    fx.write_rhd(tmp_path, rng, count=1)
    (tmp_path / "evaluation" / "mask" / "00000.png").unlink()
    _raises("missing mask image", open_dataset("rhd", tmp_path, "test").__getitem__, 0)
    _raises("unknown split", open_dataset, "dexter", tmp_path, "train")


def test_freihand_hostile_json(tmp_path, rng):
    fx.write_freihand(tmp_path, rng, count=2, eval_count=1)
    xyz_path = tmp_path / "training_xyz.json"
    good = json.loads(xyz_path.read_text())
    xyz_path.write_text("[[[0.1, 0.2")
    _raises("cannot parse JSON", open_dataset, "freihand", tmp_path, "train")
    xyz_path.write_text(json.dumps([good[0], good[1][:20]]))
    _raises("not a numeric array", open_dataset, "freihand", tmp_path, "train")
    xyz_path.write_text(json.dumps((np.asarray(good) * 1000).tolist()))
    _raises("already millimetres", open_dataset, "freihand", tmp_path, "train")
    xyz_path.write_text(json.dumps(good))
    (tmp_path / "training_K.json").write_text(json.dumps([np.eye(3).tolist()]))
    _raises(r"K: expected shape \(2, 3, 3\)", open_dataset, "freihand", tmp_path, "train")
    (tmp_path / "training_K.json").write_text(json.dumps([np.eye(3).tolist()] * 2))
    (tmp_path / "training_scale.json").write_text(json.dumps([0.5, 0.5]))
    _raises("disagrees with the middle MCP-PIP", open_dataset, "freihand", tmp_path, "train")
    (tmp_path / "evaluation_xyz.json").unlink()
    _raises("evaluation annotations missing", open_dataset, "freihand", tmp_path, "test")
    _raises("versions", open_dataset, "freihand", tmp_path, "train", versions="gs,bogus")


def test_stb_hostile_mat(tmp_path, rng):
    fx.write_stb(tmp_path, rng, ("B1Counting", "B1Random"), frames=2)
    mat = tmp_path / "labels" / "B1Random_SK.mat"
    good = scipy.io.loadmat(str(mat))["handPara"]
    scipy.io.savemat(str(mat), {"handPara": good / 1000.0})
    _raises("look like metres", open_dataset, "stb", tmp_path, "test")
    scipy.io.savemat(str(mat), {"handPara": good[:, :20]})
    _raises(r"expected shape \(3, 21, N\)", open_dataset, "stb", tmp_path, "test")
    scipy.io.savemat(str(mat), {"other": good})
    _raises("variable 'handPara' not found", open_dataset, "stb", tmp_path, "test")
    mat.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    err = _raises("mat", open_dataset, "stb", tmp_path, "test")
    assert "B1Random_SK.mat" in str(err)
    _raises("root_joint", open_dataset, "stb", tmp_path, "test", root_joint="elbow")


def test_ganerated_and_synthhands_hostile_text(tmp_path, rng):
    fx.write_ganerated(tmp_path / "g", rng, ("0001",))
    reader = open_dataset("ganerated", tmp_path / "g", "test")
    stem = reader.stems[0]
    Path(f"{stem}_joint_pos_global.txt").write_text("1,2,3\n")
    err = _raises("expected 63 numbers, found 3", reader.__getitem__, 0)
    assert "joint_pos_global.txt" in str(err)
    Path(f"{stem}_joint_pos_global.txt").write_text("import os," * 63)
    _raises("non-numeric", reader.__getitem__, 0)
    Path(f"{reader.stems[1]}_crop_params.txt").write_text("1,2,-3")
    _raises("crop scale must be positive", reader.__getitem__, 1)
    fx.write_synthhands(tmp_path / "s", rng, ("seq01",))
    synth = open_dataset("synthhands", tmp_path / "s", "train")
    joint_file = Path(f"{synth.stems[0]}_joint_pos.txt")
    metres = np.array([float(v) for v in joint_file.read_text().split(",")]) / 1000.0
    joint_file.write_text(",".join(map(str, metres)))
    _raises("look like metres", synth.__getitem__, 0)


def test_dexter_hostile_annotations(tmp_path, rng):
    fx.write_dexter(tmp_path, rng, ("Rigid",), frames=3)
    ann = tmp_path / "data" / "Rigid" / "annotations" / "Rigid3D.txt"
    lines = ann.read_text().splitlines()
    ann.write_text("\n".join([lines[0], "1, 2, 3; 4, 5, 6", lines[2]]) + "\n")
    err = _raises("expected 5 fingertips", open_dataset, "dexter", tmp_path, "test")
    assert "Rigid3D.txt:2:" in str(err)
    ann.write_text("\n".join(lines[:2]) + "\n")
    _raises("2 annotated frames but 3 colour images", open_dataset, "dexter", tmp_path, "test")


def test_image_headers_are_checked_before_decoding(tmp_path, rng):
    import cv2

    from handpose.datasets.rgbio import image_size_from_header

    img = rng.integers(0, 255, size=(30, 50, 3), dtype=np.uint8)
    for ext in (".png", ".jpg"):
        ok, buf = cv2.imencode(ext, img)
        assert ok and image_size_from_header(buf.tobytes()) == (50, 30)
    assert image_size_from_header(b"GIF89a") is None
    # A PNG whose header claims 100000 x 100000 pixels is refused without allocating for it.
    fx.write_rhd(tmp_path, rng, count=1)
    path = tmp_path / "evaluation" / "color" / "00000.png"
    data = bytearray(path.read_bytes())
    data[16:24] = (100000).to_bytes(4, "big") * 2
    path.write_bytes(bytes(data))
    _raises("claims 100000x100000 pixels", open_dataset("rhd", tmp_path, "test").__getitem__, 0)


def test_oversized_label_text_is_refused(tmp_path, rng):
    fx.write_ganerated(tmp_path, rng, ("0001",))
    reader = open_dataset("ganerated", tmp_path, "test")
    Path(f"{reader.stems[0]}_joint_pos_global.txt").write_text("1," * (1 << 20))
    _raises("over the 1 MiB cap", reader.__getitem__, 0)
