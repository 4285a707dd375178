"""Submission writers: FreiHAND and HO-3D pred.json, HANDS 2019 Task 1 result.txt."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.evaluation import submission


def _hands(rng, n=3):
    return np.array([0.0, 0.0, 500.0]) + rng.normal(0, 40, (n, 21, 3))


def test_freihand_pred_json_is_metres_in_freihand_order(tmp_path, rng):
    canonical = _hands(rng)
    rhd = skeletons.get("canonical21").convert(canonical, "rhd21")
    path = submission.write_freihand_pred(tmp_path / "pred.json", rhd, "rhd21", expected_frames=3)
    data = json.loads(path.read_text())
    assert isinstance(data, list) and len(data) == 2 and len(data[0]) == 3 and len(data[0][0]) == 21
    xyz, verts = submission.read_pred_json(path)
    expected = skeletons.get("canonical21").convert(canonical, "freihand21") / 1000.0
    np.testing.assert_allclose(xyz, expected, atol=1e-6)
    np.testing.assert_array_equal(verts, xyz)  # joints stand in for the mesh
    with pytest.raises(HandposeError, match="3960 frames"):
        submission.write_freihand_pred(tmp_path / "p2.json", rhd, "rhd21")


def test_ho3d_pred_json_uses_opengl_axes(tmp_path, rng):
    ours = _hands(rng)
    path = submission.write_ho3d_pred(tmp_path / "pred.json", ours, "canonical21", expected_frames=None)
    xyz, _ = submission.read_pred_json(path)
    assert (xyz[..., 2] < 0).all()  # what HO-3D's pred.py checks
    back = xyz * np.array([1, -1, -1]) * 1000.0
    np.testing.assert_allclose(back, skeletons.get("canonical21").convert(ours, "ho3d21"), atol=1e-3)
    with pytest.raises(HandposeError, match="cannot give every joint"):
        submission.write_ho3d_pred(tmp_path / "p.json", ours[:, :14], "nyu14", expected_frames=None)


def test_hands2019_result_is_tab_separated_like_the_training_file(tmp_path, rng):
    ours = _hands(rng, 2)
    names = ["IMG_D00000000.png", "IMG_D00000001.png"]
    path = submission.write_hands2019_result(tmp_path / "result.txt", names, ours, "canonical21")
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    fields = lines[1].split("\t")
    assert fields[0] == names[1] and len(fields) == 64
    values = np.array(fields[1:], dtype=float).reshape(21, 3)
    np.testing.assert_allclose(values, skeletons.get("canonical21").convert(ours, "hands2019")[1], atol=1e-4)
    # The reader of the training annotations reads it back.
    from handpose.datasets.labeltext import read_label_table

    read_names, table = read_label_table(path, 63)
    assert read_names == names and table.shape == (2, 63)
    with pytest.raises(HandposeError, match="frame names"):
        submission.write_hands2019_result(tmp_path / "r.txt", names[:1], ours, "canonical21")
