"""RGB dataset readers on tiny fixtures written in each dataset's exact format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures import rgb_formats as fx
from handpose import skeleton
from handpose.datasets import dataset_names, open_dataset
from handpose.geometry import xyz_to_uvd

RGB_READERS = ("rhd", "stb", "freihand", "ganerated", "synthhands", "dexter")


def _check_sample(s, skel_name: str) -> None:
    skel = skeleton.get(skel_name)
    assert s.modality == "rgb" and s.skeleton == skel_name
    assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3
    assert s.joints_xyz.shape == (skel.num_joints, 3) and s.visibility.shape == (skel.num_joints,)
    assert (s.camera.width, s.camera.height) == (s.image.shape[1], s.image.shape[0])
    finite = np.isfinite(s.joints_xyz).all(-1)
    np.testing.assert_allclose(s.joints_uvd[finite], xyz_to_uvd(s.joints_xyz[finite], s.camera), atol=1e-9)
    assert s.handedness in ("left", "right")


def test_readers_are_registered():
    assert set(RGB_READERS) <= set(dataset_names())


def test_rhd_reads_pickle_masks_and_picks_the_dominant_hand(tmp_path, rng):
    truth = fx.write_rhd(tmp_path, rng, "evaluation", count=3)
    reader = open_dataset("rhd", tmp_path, "test")
    assert len(reader) == 3 and reader.units == "m"
    for i in range(3):
        s = reader[i]
        _check_sample(s, "rhd21")
        assert s.handedness == ("right" if truth["side"][i] else "left")
        # metres on disk (float32) -> mm
        np.testing.assert_allclose(s.joints_xyz, truth["xyz"][i], atol=1e-3)
        np.testing.assert_array_equal(s.visibility, truth["visible"][i])
        np.testing.assert_allclose(s.camera.K, truth["K"][i], atol=1e-4)
        assert s.extras["mask"].dtype == bool and s.extras["mask"].any()
    np.testing.assert_allclose(reader.labels_xyz(), truth["xyz"], atol=1e-3)
    # Forcing a side ignores the mask.
    forced = open_dataset("rhd", tmp_path, "test", hand="right")
    assert {forced[i].handedness for i in range(3)} == {"right"}


def test_rhd_joints_map_to_canonical_order(tmp_path, rng):
    fx.write_rhd(tmp_path, rng, "evaluation", count=1)
    s = open_dataset("rhd", tmp_path, "test")[0]
    canon = skeleton.get("rhd21").to_canonical(s.joints_xyz)
    # Canonical middle finger runs MCP -> tip away from the wrist.
    d = np.linalg.norm(canon[9:13] - canon[0], axis=-1)
    assert np.all(np.diff(d) > 0)


@pytest.mark.parametrize("wrist_rule", ["ring_mcp", "mean_mcp"])
def test_stb_depth_to_colour_and_wrist(tmp_path, rng, wrist_rule):
    truth = fx.write_stb(tmp_path, rng, ("B1Counting", "B1Random", "B2Counting"), frames=2)
    palm = open_dataset("stb", tmp_path, "test", root_joint="palm")
    assert len(palm) == 4 and palm[0].skeleton == "stb21"
    expected = np.concatenate([truth["B1Counting"], truth["B1Random"]])
    np.testing.assert_allclose(palm.labels_xyz(), expected, atol=1e-6)
    _check_sample(palm[3], "stb21")
    wrist = open_dataset("stb", tmp_path, "test", root_joint="wrist", wrist_rule=wrist_rule)
    s = wrist[0]
    _check_sample(s, "stb21_wrist")
    stb = skeleton.get("stb21")
    j = expected[0]
    if wrist_rule == "ring_mcp":
        want = j[stb.index("ring_mcp")] + 2 * (j[0] - j[stb.index("ring_mcp")])
    else:
        mcps = [j[stb.index(f"{f}_mcp")] for f in ("index", "middle", "ring", "little")]
        want = np.mean([m + 2.25 * (j[0] - m) for m in mcps], axis=0)
    np.testing.assert_allclose(s.joints_xyz[0], want, atol=1e-6)
    np.testing.assert_allclose(s.joints_xyz[1:], j[1:], atol=1e-6)
    # The wrist variant maps onto every canonical joint.
    assert np.isfinite(skeleton.get("stb21_wrist").to_canonical(s.joints_xyz)).all()
    assert len(open_dataset("stb", tmp_path, "train", sequences=("B2Counting",))) == 2


def test_stb_split_is_b2_to_b6_for_training():
    from handpose.datasets.stb import SPLIT_SEQUENCES

    assert set(SPLIT_SEQUENCES["test"]) == {"B1Counting", "B1Random"}
    assert len(SPLIT_SEQUENCES["train"]) == 10 and not any(s.startswith("B1") for s in SPLIT_SEQUENCES["train"])


def test_freihand_versions_eval_and_mano(tmp_path, rng):
    truth = fx.write_freihand(tmp_path, rng, count=2, eval_count=3)
    train = open_dataset("freihand", tmp_path, "train")
    assert len(train) == 8
    for index in (0, 3, 5, 7):
        s = train[index]
        _check_sample(s, "freihand21")
        idx = index % 2
        assert s.frame_id == f"training/rgb/{idx + 2 * (index // 2):08d}.jpg"
        np.testing.assert_allclose(s.joints_xyz, truth["training"]["xyz"][idx], atol=1e-9)
        np.testing.assert_allclose(s.camera.K, truth["training"]["K"][idx])
        assert s.extras["mano"].shape == (61,) and s.extras["mask"].any() and s.handedness == "right"
    hom = open_dataset("freihand", tmp_path, "train", versions="hom")
    assert len(hom) == 2 and hom[1].frame_id == "training/rgb/00000003.jpg"
    test = open_dataset("freihand", tmp_path, "test")
    assert len(test) == 3
    np.testing.assert_allclose(test.labels_xyz(), truth["evaluation"]["xyz"], atol=1e-9)


def test_ganerated_crop_camera_matches_joint2d(tmp_path, rng):
    truth = fx.write_ganerated(tmp_path, rng, ("0001", "0004", "0005"))
    test = open_dataset("ganerated", tmp_path, "test")
    train = open_dataset("ganerated", tmp_path, "train")
    assert (len(test), len(train), len(open_dataset("ganerated", tmp_path, "all"))) == (2, 4, 6)
    for s in (test[0], train[3]):
        _check_sample(s, "ganerated21")
        xyz, cam = truth[s.frame_id.replace("_color_composed.png", "")]
        np.testing.assert_allclose(s.joints_xyz, xyz, atol=1e-5)
        np.testing.assert_allclose(s.camera.K, cam.K, atol=1e-6)
        np.testing.assert_allclose(s.joints_uvd[:, :2], s.extras["joint2D"], atol=1e-3)
        assert s.handedness == "left"


def test_synthhands_depth_to_colour_translation(tmp_path, rng):
    truth = fx.write_synthhands(tmp_path, rng, ("seq01", "seq02", "seq07"))
    train = open_dataset("synthhands", tmp_path, "train")
    assert len(train) == 4 and len(open_dataset("synthhands", tmp_path, "test")) == 2
    s = train[1]
    _check_sample(s, "synthhands21")
    np.testing.assert_allclose(s.joints_xyz, truth[s.frame_id.replace("_color.png", "")], atol=1e-5)
    on_depth = open_dataset("synthhands", tmp_path, "train", image="color_on_depth")[1]
    from handpose.datasets.synthhands import DEPTH_TO_COLOR_MM

    np.testing.assert_allclose(on_depth.joints_xyz, s.joints_xyz - DEPTH_TO_COLOR_MM, atol=1e-9)
    assert on_depth.camera.name == "synthhands_depth"


def test_dexter_fingertips_and_missing_marker(tmp_path, rng):
    truth = fx.write_dexter(tmp_path, rng, ("Grasp1", "Pinch"), frames=3)
    reader = open_dataset("dexter", tmp_path, "test")
    assert reader.splits == ("test",) and len(reader) == 6
    expected = np.concatenate([truth["Grasp1"], truth["Pinch"]])
    np.testing.assert_allclose(reader.labels_xyz(), expected, atol=1e-5)
    s = reader[1]
    _check_sample(s, "dexter5")
    assert not s.visibility[4] and s.visibility[:4].all() and np.isnan(s.joints_xyz[4]).all()
    canon = skeleton.get("dexter5").to_canonical(s.joints_xyz)
    np.testing.assert_allclose(canon[[4, 8, 12, 16]], s.joints_xyz[:4])


WRITERS = {
    "rhd": (lambda root, rng: fx.write_rhd(root, rng, count=2), "test", []),
    "stb": (lambda root, rng: fx.write_stb(root, rng, ("B1Counting", "B1Random"), 1), "test", []),
    "freihand": (lambda root, rng: fx.write_freihand(root, rng, 2, 1), "train", ["--option", "versions=gs"]),
    "ganerated": (lambda root, rng: fx.write_ganerated(root, rng, ("0001",)), "test", []),
    "synthhands": (lambda root, rng: fx.write_synthhands(root, rng, ("seq07",)), "test", []),
    "dexter": (lambda root, rng: fx.write_dexter(root, rng, ("Grasp2",), 2), "test", []),
}


@pytest.mark.parametrize("name", RGB_READERS)
def test_data_check_and_show_cover_rgb_readers(tmp_path, rng, name):
    from handpose.cli import main

    write, split, extra = WRITERS[name]
    root = tmp_path / "data"
    write(root, rng)
    report_path = tmp_path / "report.json"
    args = ["--dataset", name, "--root", str(root), "--split", split, *extra]
    assert main(["data", "check", *args, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["modality"] == "rgb" and report["frames"] >= 2 and report["missing_files"] == 0
    assert report["images_checked"] == report["frames"] and not report["unreadable"]
    lo, hi = report["joint_range_mm"]["min"], report["joint_range_mm"]["max"]
    assert lo[2] > 100 and hi[2] < 2000  # camera-space mm in front of the camera
    out = tmp_path / "show"
    assert main(["data", "show", *args, "--count", "2", "--size", "64", "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) == 2
    # A missing image is reported, not a crash (D+O's frame list is its image folder: a layout error).
    reader = open_dataset(name, root, split, **({"versions": "gs"} if name == "freihand" else {}))
    reader.image_path(0).unlink()
    assert main(["data", "check", *args]) == (2 if name == "dexter" else 1)
