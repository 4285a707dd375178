"""handpose-synth folders: writer, reader, stream, CLI arguments, interrupted runs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.datasets import open_dataset
from handpose.datasets.synthetic import SyntheticFolder, SyntheticStream
from handpose.errors import HandposeError
from handpose.synth import writer

CAMERA = "150,150,79.5,59.5,160,120"


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path):
    a = writer.write_synthetic(tmp_path / "a", 6, seed=4, camera=CAMERA, occluders=True)
    b = writer.write_synthetic(tmp_path / "b", 6, seed=4, camera=CAMERA, occluders=True, workers=2)
    files_a, files_b = _files(a), _files(b)
    assert set(files_a) >= {"meta.json", "joints.npy", "visibility.npy", "depth/000000.png", "depth/000005.png"}
    assert files_a == files_b
    c = writer.write_synthetic(tmp_path / "c", 6, seed=5, camera=CAMERA, occluders=True)
    assert _files(c)["depth/000000.png"] != files_a["depth/000000.png"]


def test_folder_format_reader_and_stream_agree(tmp_path):
    out = writer.write_synthetic(tmp_path / "set", 12, seed=2, camera=CAMERA)
    meta = json.loads((out / "meta.json").read_text())
    assert meta == {
        "format": "handpose-synth",
        "version": 1,
        "modality": "depth",
        "camera": {"fx": 150.0, "fy": 150.0, "cx": 79.5, "cy": 59.5, "width": 160, "height": 120},
        "skeleton": "canonical21",
        "count": 12,
        "seed": 2,
    }
    joints = np.load(out / "joints.npy")
    assert joints.shape == (12, 21, 3) and joints.dtype == np.float32
    assert np.load(out / "visibility.npy").dtype == bool
    png = cv2.imread(str(out / "depth" / "000003.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (120, 160)

    sizes = {split: len(open_dataset("synthetic", out, split)) for split in ("all", "train", "val", "test")}
    assert sizes == {"all": 12, "train": 11, "val": 1, "test": 12}
    val = SyntheticFolder(out, "val")
    assert val[0].frame_id == "depth/000009.png"
    np.testing.assert_array_equal(
        SyntheticFolder(out, "train").labels_xyz(), joints[[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11]]
    )

    folder = SyntheticFolder(out, "all")
    stream = SyntheticStream(12, seed=2, camera=CAMERA)
    assert folder.modality == stream.modality == "depth" and folder.camera == stream.camera
    for i in (0, 7):
        a, b = folder[i], stream[i]
        assert a.image.dtype == np.float32 and np.array_equal(a.image, b.image)
        for key in ("joints_xyz", "joints_uvd", "visibility"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert a.handedness == b.handedness in ("left", "right")
        assert a.frame_id == b.frame_id and a.skeleton == "canonical21" and a.center_xyz is None
    with pytest.raises(IndexError):
        stream[12]


def test_rgb_folder(tmp_path):
    out = writer.write_synthetic(tmp_path / "rgb", 2, seed=1, modality="rgb", camera=CAMERA, occluders=True)
    folder = SyntheticFolder(out)
    sample = folder[1]
    assert folder.modality == "rgb" and sample.image.dtype == np.uint8 and sample.image.shape == (120, 160, 3)
    np.testing.assert_array_equal(sample.image, SyntheticStream(2, 1, "rgb", CAMERA, occluders=True)[1].image)


def test_interrupted_run_leaves_no_partial_frame(tmp_path, monkeypatch):
    real = writer.render_frame

    def render_then_stop(seed, index, *args, **kwargs):
        if index == 3:
            raise KeyboardInterrupt
        return real(seed, index, *args, **kwargs)

    monkeypatch.setattr(writer, "render_frame", render_then_stop)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        writer.write_synthetic(out, 8, seed=0, camera=CAMERA)
    names = sorted(p.name for p in (out / "depth").iterdir())
    assert names == ["000000.png", "000001.png", "000002.png"]  # whole frames only, no temporaries
    for name in names:
        assert cv2.imread(str(out / "depth" / name), cv2.IMREAD_UNCHANGED).shape == (120, 160)
    assert not (out / "meta.json").exists() and not (out / "joints.npy").exists()
    with pytest.raises(HandposeError, match=r"meta\.json"):
        SyntheticFolder(out)


def test_frame_write_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    real_write = Path.write_bytes

    def half_then_fail(self, data):
        if data[:4] == b"\x89PNG":
            real_write(self, data[: len(data) // 2])
            raise OSError("disk full")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(OSError):
        writer.write_synthetic(tmp_path / "x", 2, camera=CAMERA)
    assert list((tmp_path / "x").rglob("*.png")) == [] and list((tmp_path / "x").rglob("*.tmp")) == []


def test_reader_rejects_broken_folders(tmp_path):
    out = writer.write_synthetic(tmp_path / "ok", 3, camera=CAMERA)
    np.save(out / "joints.npy", np.zeros((2, 21, 3), np.float32))
    with pytest.raises(HandposeError, match=r"joints\.npy.*expected shape"):
        SyntheticFolder(out)
    meta = json.loads((out / "meta.json").read_text())
    (out / "meta.json").write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(HandposeError, match="not a handpose-synth"):
        SyntheticFolder(out)


def _cli(args, capsys):
    code = main(["synth", *args])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--camera", "kinect9000", "--count", "2"], "unknown camera"),
        (["--count", "0"], "--count must be a positive"),
        (["--count", "-4"], "--count must be a positive"),
        (["--camera", "1,2,3", "--count", "2"], "unknown camera"),
        (["--workers", "0", "--count", "2"], "--workers"),
        (["--camera=-500,500,160,120,320,240", "--count", "2"], "fx must be positive"),
        (["--camera", "500,500,-3,-3", "--count", "2"], "image size"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    code, err = _cli([str(tmp_path / "out"), *args], capsys)
    assert code == 2 and "\n" not in err and message in err
    assert not (tmp_path / "out" / "meta.json").exists()


def test_cli_output_folder_checks(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _cli([str(blocker / "sub"), "--count", "2", "--camera", CAMERA], capsys)
    assert code == 2 and "\n" not in err and "cannot write" in err
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    code, err = _cli([str(full), "--count", "2", "--camera", CAMERA], capsys)
    assert code == 2 and "\n" not in err and "not empty" in err and "--overwrite" in err
    code, _ = _cli([str(full), "--count", "2", "--camera", CAMERA, "--overwrite", "--occluders"], capsys)
    assert code == 0 and (full / "meta.json").exists() and len(SyntheticFolder(full)) == 2
    assert (full / "keep.txt").exists()  # only synthetic files are replaced


def test_stream_survives_pickling_for_worker_processes():
    import pickle

    stream = SyntheticStream(5, seed=9, camera=CAMERA, occluders=True)
    copy = pickle.loads(pickle.dumps(stream))
    assert len(copy) == 5 and copy.camera == stream.camera and copy.skeleton == "canonical21"
    np.testing.assert_array_equal(copy[3].image, stream[3].image)
    np.testing.assert_array_equal(copy[-1].joints_xyz, stream[4].joints_xyz)


def test_one_handed_sets_from_the_writer_the_stream_and_the_cli(tmp_path, capsys):
    out = writer.write_synthetic(tmp_path / "right", 8, seed=3, camera=CAMERA, hands="right", workers=2)
    assert set(np.load(out / "handedness.npy").tolist()) == {"right"}
    assert json.loads((out / "synth.json").read_text())["hands"] == "right"
    assert {SyntheticStream(8, seed=3, camera=CAMERA, hands="left")[i].handedness for i in range(8)} == {"left"}
    # The default keeps both sides, as before.
    assert set(np.load(writer.write_synthetic(tmp_path / "both", 12, seed=3, camera=CAMERA) / "handedness.npy")) == {
        "left",
        "right",
    }
    code, _ = _cli([str(tmp_path / "cli"), "--count", "3", "--camera", CAMERA, "--hands", "left"], capsys)
    assert code == 0 and set(np.load(tmp_path / "cli" / "handedness.npy").tolist()) == {"left"}
    with pytest.raises(HandposeError, match="unknown hands 'both-ish'"):
        SyntheticStream(4, hands="both-ish")
