"""``handpose data check`` / ``show`` over fixture datasets and any registered reader."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fixtures import depth_formats as fx
from handpose.cli import main
from handpose.datasets import base
from handpose.datasets.base import DatasetReader, Sample, register_dataset
from handpose.geometry import CAMERAS


def test_check_reports_and_writes_json(tmp_path, rng, capsys):
    fx.write_hands2017(tmp_path, rng, n_train=4)
    out = tmp_path / "report.json"
    rc = main(["data", "check", "--dataset", "hands2017", "--root", str(tmp_path), "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["dataset"] == "hands2017" and report["split"] == "train"
    assert report["frames"] == 4 and report["joints"] == 21 and report["images_checked"] == 4
    assert report["missing_files"] == 0 and report["unreadable"] == []
    assert len(report["joint_range_mm"]["min"]) == 3 and report["joint_range_mm"]["min"][2] > 300
    assert "frames: 4" in capsys.readouterr().out


def test_check_counts_missing_and_unreadable_files(tmp_path, rng, capsys):
    fx.write_icvl(tmp_path, rng, n_train=4)
    images = sorted((tmp_path / "Training/Depth").rglob("*.png"))
    images[0].unlink()
    images[1].write_bytes(images[1].read_bytes()[:100])
    out = tmp_path / "r.json"
    rc = main(["data", "check", "--dataset", "icvl", "--root", str(tmp_path), "--json", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    assert report["missing_files"] == 1 and len(report["unreadable"]) == 1
    assert "truncated PNG" in report["unreadable"][0]
    text = capsys.readouterr().out
    assert "missing image files: 1" in text and "unreadable:" in text


def test_check_wrong_layout_exits_2_with_one_line(tmp_path, capsys):
    rc = main(["data", "check", "--dataset", "nyu", "--root", str(tmp_path), "--split", "test"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "expected NYU's label file" in err and "test/joint_data.mat" in err
    assert main(["data", "check", "--dataset", "nope", "--root", str(tmp_path)]) == 2
    assert main(["data", "check", "--dataset", "msra", "--root", str(tmp_path), "--option", "subjekt=1"]) == 2
    assert main(["data", "check", "--dataset", "msra", "--root", str(tmp_path), "--option", "bad"]) == 2


def test_check_passes_reader_options(tmp_path, rng):
    fx.write_msra(tmp_path, rng, subjects=range(9), gestures=("1",), frames=2)
    out = tmp_path / "r.json"
    args = ["data", "check", "--dataset", "msra", "--root", str(tmp_path), "--split", "test"]
    assert main([*args, "--option", "subject=3", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["frames"] == 2


def test_show_writes_crops_with_joints(tmp_path, rng):
    fx.write_nyu(tmp_path / "nyu", rng, n_train=3)
    out = tmp_path / "show"
    args = ["data", "show", "--dataset", "nyu", "--root", str(tmp_path / "nyu"), "--count", "2", "--out", str(out)]
    rc = main([*args, "--size", "128", "--option", "joints=nyu14"])
    assert rc == 0
    files = sorted(out.glob("*.png"))
    assert len(files) == 2
    img = cv2.imread(str(files[0]))
    assert img.shape == (128, 128, 3)
    red = (img[:, :, 2] > 200) & (img[:, :, 0] < 80) & (img[:, :, 1] < 80)
    assert red.sum() > 14  # joint markers drawn
    assert not list(out.glob(".*.tmp"))


class _TinyRGB(DatasetReader):
    """A two-frame RGB reader registered only by this test, to show the command is reader-agnostic."""

    name = "test_tiny_rgb"
    modality = "rgb"
    skeleton = "canonical21"
    splits = ("train",)

    def __len__(self) -> int:
        return 2

    def labels_xyz(self) -> np.ndarray:
        return np.stack([self._xyz(i) for i in range(2)])

    def _xyz(self, i: int) -> np.ndarray:
        return np.random.default_rng(i).normal(0, 30, (21, 3)) + np.array([0.0, 0.0, 500.0])

    def __getitem__(self, i: int) -> Sample:
        cam = CAMERAS["ganerated"]
        xyz = self._xyz(i)
        return Sample(
            image=np.full((480, 640, 3), 90, np.uint8),
            joints_xyz=xyz,
            joints_uvd=cam.xyz_to_uvd(xyz),
            visibility=np.ones(21, bool),
            camera=cam,
            skeleton="canonical21",
            frame_id=f"frame{i}",
            modality="rgb",
        )


@pytest.fixture
def tiny_rgb_registered():
    register_dataset(_TinyRGB)
    yield
    base._DATASETS.pop(_TinyRGB.name)  # keep the registry as other tests expect it


def test_commands_work_for_any_registered_reader(tmp_path, tiny_rgb_registered):
    out = tmp_path / "r.json"
    assert main(["data", "check", "--dataset", "test_tiny_rgb", "--root", str(tmp_path), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["frames"], report["joints"], report["modality"]) == (2, 21, "rgb")
    show = tmp_path / "show"
    assert main(["data", "show", "--dataset", "test_tiny_rgb", "--root", str(tmp_path), "--out", str(show)]) == 0
    assert len(list(show.glob("*.png"))) == 2
