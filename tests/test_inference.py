"""Estimator and ``handpose predict``: depth inputs in every supported encoding, and bad input of every
kind giving one clear line and exit status 2 (never a traceback, never executing pickled code)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from training_helpers import cli, tiny_run


def _one_line_error(capsys, *argv) -> str:
    code = cli(*argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def sample():
    from handpose.datasets import open_dataset

    return open_dataset("synthetic", tiny_run().test_data, "test")[0]


def test_every_depth_encoding_gives_the_same_prediction(tmp_path: Path, sample) -> None:
    from handpose.datasets.imageio import encode_nyu_depth
    from handpose.datasets.msra import write_msra_depth
    from handpose.inference import Estimator
    from handpose.inputs import read_depth

    depth = sample.image
    png16 = tmp_path / "a.png"
    cv2.imwrite(str(png16), depth.astype(np.uint16))
    nyu = tmp_path / "b.png"
    cv2.imwrite(str(nyu), encode_nyu_depth(depth))
    npy = tmp_path / "c.npy"
    np.save(npy, depth)
    rows, cols = np.nonzero(depth)
    msra = tmp_path / "d.bin"
    write_msra_depth(msra, depth, (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1))
    for path in (png16, nyu, npy, msra):
        assert np.array_equal(read_depth(path), depth.astype(np.float32)), path.name

    est = Estimator.load(tiny_run().package)
    pred = est.predict(read_depth(msra), camera="nyu", center=sample.joints_xyz[9])
    assert pred.xyz.shape == (21, 3)
    # Without a centre it is found in the depth: a different crop, still a hand-sized answer near the hand.
    auto = est.predict(depth, camera="nyu")
    assert np.linalg.norm(auto.center_xyz - sample.joints_xyz.mean(0)) < 200


def test_custom_intrinsics_and_center_on_the_command_line(tmp_path: Path, sample) -> None:
    run = tiny_run()
    img = run.test_data / "depth" / "000000.png"
    cam = "588.036865,587.075073,320,240"
    center = ",".join(f"{v:.2f}" for v in sample.joints_xyz[9])
    assert cli("predict", run.package, img, "--camera", cam, f"--center={center}", "--out", tmp_path, "--no-plots") == 0
    assert (tmp_path / "000000.json").is_file()


def test_bad_model_files(tmp_path: Path, capsys) -> None:
    run = tiny_run()
    img = run.test_data / "depth" / "000000.png"
    missing = tmp_path / "missing.ckpt"
    assert "model not found" in _one_line_error(capsys, "predict", missing, img, "--camera", "nyu")

    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(run.best.read_bytes()[:5000])
    assert "corrupt" in _one_line_error(capsys, "predict", corrupt, img, "--camera", "nyu")
    assert "corrupt" in _one_line_error(capsys, "export", corrupt, tmp_path / "pkg")
    assert "corrupt" in _one_line_error(
        capsys, "evaluate", "--checkpoint", corrupt, "--dataset", "synthetic", "--root", run.test_data
    )

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 1}, foreign)
    assert "not a handpose training checkpoint" in _one_line_error(capsys, "export", foreign, tmp_path / "pkg")

    broken_pkg = tmp_path / "pkg_broken"
    shutil.copytree(run.package, broken_pkg)
    (broken_pkg / "model.safetensors").write_bytes(b"\x00" * 64)
    err = _one_line_error(capsys, "predict", broken_pkg, img, "--camera", "nyu")
    assert "model.safetensors" in err and "SHA-256" in err
    # A damaged file listed with its own checksum still fails as what it is.
    meta = json.loads((broken_pkg / "model.json").read_text())
    meta["files"]["model.safetensors"] = hashlib.sha256(b"\x00" * 64).hexdigest()
    (broken_pkg / "model.json").write_text(json.dumps(meta))
    assert "corrupt weights" in _one_line_error(capsys, "predict", broken_pkg, img, "--camera", "nyu")


def test_checkpoint_of_another_model_is_refused(tmp_path: Path, capsys) -> None:
    run = tiny_run()
    ckpt = torch.load(run.best, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["contract"]["model"] = "crossinfonet_base"  # no cross-connection layers
    other = tmp_path / "other.ckpt"
    torch.save(ckpt, other)
    err = _one_line_error(capsys, "predict", other, run.test_data / "depth" / "000000.png", "--camera", "nyu")
    assert "weights do not fit model 'crossinfonet_base'" in err


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_code_is_refused_not_executed(tmp_path: Path, capsys) -> None:
    run = tiny_run()
    marker = tmp_path / "executed"
    ckpt = torch.load(run.best, map_location="cpu", weights_only=True)
    ckpt["payload"] = _Payload(str(marker))
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    img = run.test_data / "depth" / "000000.png"
    assert "refused" in _one_line_error(capsys, "predict", evil, img, "--camera", "nyu")
    assert "refused" in _one_line_error(capsys, "export", evil, tmp_path / "pkg")
    out = tmp_path / "resume"
    err = _one_line_error(capsys, "train", "--config", run.run_dir / "config.yaml", "--out", out, "--resume", evil)
    assert "refused" in err
    assert not marker.exists()


def test_bad_inputs(tmp_path: Path, capsys) -> None:
    run = tiny_run()
    img = run.test_data / "depth" / "000000.png"
    assert "unknown camera" in _one_line_error(capsys, "predict", run.package, img, "--camera", "kinect9")

    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png at all")
    assert "garbage.png" in _one_line_error(capsys, "predict", run.package, garbage, "--camera", "nyu")

    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((48, 64, 3), 128, np.uint8))
    err = _one_line_error(capsys, "predict", run.package, photo, "--camera", "nyu")
    assert "photo.jpg" in err

    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((480, 640), np.uint16))
    err = _one_line_error(capsys, "predict", run.package, empty, "--camera", "nyu")
    assert "empty.png" in err and "no valid depth" in err

    huge = tmp_path / "huge.bin"
    huge.write_bytes(struct.pack("<6i", 100000, 100000, 0, 0, 10, 10))
    assert "refusing" in _one_line_error(capsys, "predict", run.package, huge, "--camera", "nyu")

    assert "input not found" in _one_line_error(capsys, "predict", run.package, tmp_path / "nope.png")


def test_wrong_modality_in_the_api(sample) -> None:
    from handpose.inference import Estimator

    est = Estimator.load(tiny_run().package)
    with pytest.raises(HandposeError, match="takes depth images"):
        est.predict(np.zeros((64, 64, 3), np.uint8), camera="nyu")
    with pytest.raises(HandposeError, match="onnx"):
        Estimator.load(tiny_run().best, runtime="onnx")
