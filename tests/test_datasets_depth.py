"""Depth readers on fixtures written in each dataset's exact on-disk format."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures import depth_formats as fx
from handpose.datasets import dataset_names, open_dataset
from handpose.datasets.imageio import HO3D_DEPTH_SCALE_M
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, xyz_to_uvd
from handpose.skeleton import NYU14_FROM_NYU36
from handpose.transforms.depth import DepthCropTransform


def test_depth_readers_are_registered():
    names = set(dataset_names())
    assert {"icvl", "nyu", "msra", "hands2017", "hands2019", "ho3d"} <= names


def test_icvl(tmp_path, rng):
    truth = fx.write_icvl(tmp_path, rng)
    train = open_dataset("icvl", tmp_path, "train")
    assert len(train) == 3 and train.skeleton == "icvl16"
    for i, (name, uvd, depth) in enumerate(truth["train"]):
        s = train[i]
        assert s.frame_id == f"Training/Depth/{name}"
        np.testing.assert_allclose(s.joints_uvd, uvd)
        np.testing.assert_allclose(s.joints_xyz, CAMERAS["icvl"].uvd_to_xyz(uvd))
        assert s.image.dtype == np.float32 and s.image.shape == (240, 320)
        assert s.image[0, 0] == 0.0  # 32001 = missing
        np.testing.assert_array_equal(s.image[1:], depth[1:])
    test = open_dataset("icvl", tmp_path, "test")
    assert len(test) == 4 and [test[i].extras["sequence"] for i in range(4)] == [1, 1, 2, 2]
    seq2 = open_dataset("icvl", tmp_path, "test_seq_2", camera="icvl_eval")
    assert len(seq2) == 2 and seq2[0].extras["sequence"] == 2
    np.testing.assert_allclose(seq2[0].joints_xyz, CAMERAS["icvl_eval"].uvd_to_xyz(truth["test"][2][1]))


def test_icvl_genuine_frames_only(tmp_path, rng):
    truth = fx.write_icvl(tmp_path, rng, n_train=2, n_rotated=3)
    everything = open_dataset("icvl", tmp_path, "train")
    genuine = open_dataset("icvl", tmp_path, "train", genuine_only=True)
    assert (len(everything), len(genuine)) == (5, 2)
    assert genuine.frame_ids == [f"Training/Depth/{name}" for name, _, _ in truth["train"][:2]]
    np.testing.assert_allclose(genuine[1].joints_uvd, truth["train"][1][1])
    assert len(open_dataset("icvl", tmp_path, "test", genuine_only=True)) == 4
    (tmp_path / "Training/labels.txt").write_text(
        "".join(
            line
            for line in (tmp_path / "Training/labels.txt").read_text().splitlines(keepends=True)
            if line.startswith("15/")
        )
    )
    with pytest.raises(HandposeError, match="no recorded frame"):
        open_dataset("icvl", tmp_path, "train", genuine_only=True)


def test_hands2019_test_frames_centred_in_their_box(tmp_path, rng):
    truth = fx.write_hands2019(tmp_path, rng, n=1, n_test=2)
    test = open_dataset("hands2019", tmp_path, "test")
    assert len(test) == 2 and test.frame_ids[1] == "test_images/IMG_D00000001.png"
    s = test[1]
    assert np.isnan(s.joints_xyz).all() and s.extras["box_xyxy"].shape == (4,)
    # The centre is the hand in the box, not the nearer object outside it.
    _, xyz, _ = truth[2]
    assert np.linalg.norm(s.center_xyz - xyz.mean(axis=0)) < 60.0
    (tmp_path / "test_bbs.txt").write_text("IMG_D00000000.png 50 50 40 60\n")
    with pytest.raises(HandposeError, match="x1 < x2"):
        open_dataset("hands2019", tmp_path, "test")


def test_nyu(tmp_path, rng):
    truth = fx.write_nyu(tmp_path, rng)
    train = open_dataset("nyu", tmp_path, "train", joints="nyu36")
    assert len(train) == 3 and train.skeleton == "nyu36"
    s = train[1]
    np.testing.assert_allclose(s.joints_xyz, truth["train"][1])  # y flipped back to ours
    np.testing.assert_allclose(s.joints_uvd, xyz_to_uvd(truth["train"][1], CAMERAS["nyu"]))
    # The published protocol's 14 joints unless asked otherwise.
    default = open_dataset("nyu", tmp_path, "train")
    assert default.skeleton == "nyu14" and default[1].joints_xyz.shape == (14, 3)
    np.testing.assert_allclose(default[1].joints_xyz, truth["train"][1][list(NYU14_FROM_NYU36)])
    np.testing.assert_array_equal(s.image, truth[("train", 1)])
    assert s.image[5, 7] == 0x1234 and s.frame_id == "train/depth_1_0000002.png"
    test14 = open_dataset("nyu", tmp_path, "test", joints="nyu14")
    assert len(test14) == 2443 and test14.skeleton == "nyu14"
    np.testing.assert_allclose(test14.labels_xyz()[2439], truth["test"][2439][list(NYU14_FROM_NYU36)])
    assert test14[2439].extras["sequence"] == 1 and test14[2440].extras["sequence"] == 2
    seq1, seq2 = open_dataset("nyu", tmp_path, "test_seq_1"), open_dataset("nyu", tmp_path, "test_seq_2")
    assert (len(seq1), len(seq2)) == (2440, 3)
    assert seq2.frame_ids[0] == "test/depth_1_0002441.png"
    np.testing.assert_array_equal(seq2[0].image, truth[("test", 2440)])


def test_msra_leave_one_subject_out(tmp_path, rng):
    truth = fx.write_msra(tmp_path, rng, subjects=range(9), gestures=("TIP", "1"), frames=1)
    test = open_dataset("msra", tmp_path, "test", subject=1)
    train = open_dataset("msra", tmp_path, "train", subject=1)
    assert (len(test), len(train)) == (2, 16)
    assert {train[i].extras["subject"] for i in range(len(train))} == {0, 2, 3, 4, 5, 6, 7, 8}
    assert test[0].extras["gesture"] == "1"  # the published gesture order, not the file system's
    s = test[1]
    assert s.frame_id == "P1/TIP/000000_depth.bin" and s.extras["gesture"] == "TIP"
    xyz, depth = truth[(1, "TIP", 0)]
    np.testing.assert_allclose(s.joints_xyz, xyz, atol=1e-9)
    assert (s.joints_xyz[:, 2] > 0).all()
    np.testing.assert_array_equal(s.image, depth)
    cubes = open_dataset("msra", tmp_path, "all", subject_cubes=True)
    assert len(cubes) == 18 and cubes[0].extras["cube"] == 200.0 and cubes[17].extras["cube"] == 150.0


def test_hands2017_and_2019(tmp_path, rng):
    truth = fx.write_hands2017(tmp_path / "h17", rng)
    train = open_dataset("hands2017", tmp_path / "h17", "train")
    name, xyz, depth = truth["train"][2]
    s = train[2]
    assert s.frame_id == f"training/images/{name}" and s.skeleton == "hands2017"
    np.testing.assert_allclose(s.joints_xyz, xyz)
    np.testing.assert_array_equal(s.image, depth)
    test = open_dataset("hands2017", tmp_path / "h17", "test")
    t = test[1]
    assert np.isnan(t.joints_xyz).all() and not t.visibility.any()
    np.testing.assert_allclose(t.extras["box_xyxy"], [201, 150, 321, 260])
    truth19 = fx.write_hands2019(tmp_path / "h19", rng)
    h19 = open_dataset("hands2019", tmp_path / "h19", "train")
    assert len(h19) == 3 and h19[0].frame_id == "training_images/IMG_D00000000.png"
    np.testing.assert_allclose(h19.labels_xyz(), np.stack([x for _, x, _ in truth19]))


@pytest.mark.parametrize("list_files", [True, False])
def test_ho3d(tmp_path, rng, list_files):
    truth = fx.write_ho3d(tmp_path, rng, n_train=3, n_eval=2, list_files=list_files)
    train = open_dataset("ho3d", tmp_path, "train")
    assert len(train) == 3
    for i in range(3):
        s = train[i]
        key = "/".join([s.frame_id.split("/")[1], s.frame_id.split("/")[3][:-4]])
        xyz, depth = truth[("train", key)]
        np.testing.assert_allclose(s.joints_xyz, xyz, atol=1e-3)  # float32 metres on disk
        assert s.camera.fx == pytest.approx(614.6) and s.camera.cy == pytest.approx(241.2)
        # Depth quantised to the HO-3D unit (0.125 mm).
        assert np.abs(s.image - depth).max() <= HO3D_DEPTH_SCALE_M * 1000 / 2 + 1e-3
    ev = open_dataset("ho3d", tmp_path, "evaluation")
    s = ev[0]
    assert np.isfinite(s.joints_xyz[0]).all() and np.isnan(s.joints_xyz[1:]).all()
    assert s.visibility.tolist() == [True] + [False] * 20
    np.testing.assert_allclose(s.extras["root_xyz"], s.joints_xyz[0])
    np.testing.assert_allclose(s.extras["box"], [250, 180, 400, 330])


def test_readers_feed_the_crop_transform(tmp_path, rng):
    fx.write_msra(tmp_path, rng, subjects=range(9), gestures=("1",), frames=1)
    sample = open_dataset("msra", tmp_path, "test", subject=4)[0]
    out = DepthCropTransform.for_dataset("msra", "test", center="com")(sample)
    assert out["image"].shape == (1, 96, 96) and (out["image"] < 1).sum() > 50
    assert np.isfinite(out["joints"]).all() and np.abs(out["joints"]).max() < 2.0  # random blobs, not a hand


def test_centre_files(tmp_path, rng):
    import scipy.io

    fx.write_icvl(tmp_path, rng)
    cam = CAMERAS["icvl"]
    uvd = np.array([[[150.0, 110.0, 340.0]], [[160.0, 120.0, 350.0]], [[170.0, 125.0, 360.0]]])
    scipy.io.savemat(str(tmp_path / "c.mat"), {"centre_pixel": uvd})
    r = open_dataset("icvl", tmp_path, "train", centers=tmp_path / "c.mat")
    np.testing.assert_allclose(r[2].center_xyz, cam.uvd_to_xyz(uvd[2, 0]))
    (tmp_path / "c.txt").write_text("1 2 300\ninvalid\n-3.5 4 310\n")
    r = open_dataset("icvl", tmp_path, "train", centers=tmp_path / "c.txt", centers_y_up=True)
    np.testing.assert_allclose(r[0].center_xyz, [1, -2, 300])
    assert r[1].center_xyz is None


def test_depth_cache_round_trip(tmp_path, rng):
    from handpose.cli import main

    fx.write_nyu(tmp_path / "nyu", rng, n_train=3)
    args = ["data", "cache", "--dataset", "nyu", "--root", str(tmp_path / "nyu"), "--out", str(tmp_path / "c")]
    assert main([*args, "--option", "joints=nyu14", "--patch-size", "160"]) == 0
    source = open_dataset("nyu", tmp_path / "nyu", "train", joints="nyu14")
    cache = open_dataset("depth_cache", tmp_path / "c", "train")
    assert len(cache) == 3 and cache.skeleton == "nyu14" and cache[0].image.shape == (160, 160)
    tf = DepthCropTransform(cube=250.0, out_size=96)
    for i in range(3):
        a, b = tf(source[i]), tf(cache[i])
        assert b["joints_xyz"].tolist() == a["joints_xyz"].tolist()
        np.testing.assert_allclose(b["joints"], a["joints"], atol=1e-5)
        np.testing.assert_allclose(b["joints_crop"], a["joints_crop"], atol=1e-5)
        # The patch is resampled once more: only pixels on depth edges may differ.
        assert (a["image"] != b["image"]).mean() < 0.05
    (tmp_path / "c/train/labels.npz").write_bytes(b"junk")
    with pytest.raises(HandposeError, match="unreadable cache"):
        open_dataset("depth_cache", tmp_path / "c", "train")
    with pytest.raises(HandposeError, match=r"expected test/info\.json"):
        open_dataset("depth_cache", tmp_path / "c", "test")


def test_reader_cubes_drive_the_transform(tmp_path, rng):
    fx.write_nyu(tmp_path, rng, n_train=1)
    test = open_dataset("nyu", tmp_path, "test", joints="nyu14", sequence_cubes=True)
    tf = DepthCropTransform(cube=250.0, cube_from_sample=True)
    assert test[0].extras == {"sequence": 1, "cube": 300.0}
    assert tf(test[0])["cube"].tolist() == [300.0] * 3
    assert tf(test[2440])["cube"].tolist() == [250.0] * 3
    assert DepthCropTransform(cube=250.0)(test[0])["cube"].tolist() == [250.0] * 3
