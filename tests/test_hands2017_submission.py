"""HANDS 2017 frame-based task: a model trained on its training files writes the server's ``result.txt``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import depth_formats as fx
from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.evaluation import submission
from training_helpers import TINY_CONFIG, cli, holdout_args


def test_result_lines_name_the_test_image_path_then_63_tab_separated_mm(tmp_path, rng):
    ours = np.stack([fx.random_hand(rng, 21, (0, 0, 500), 30) for _ in range(2)])
    names = ["frame/images/image_D00000001.png", "image_D00000002.png"]
    path = submission.write_hands2017_result(tmp_path / "result.txt", names, ours, "canonical21")
    lines = path.read_text().splitlines()
    fields = [line.split("\t") for line in lines]
    assert [f[0] for f in fields] == ["frame\\images\\image_D00000001.png", "frame\\images\\image_D00000002.png"]
    assert all(len(f) == 64 for f in fields)
    values = np.array(fields[0][1:], dtype=float).reshape(21, 3)
    np.testing.assert_allclose(values, skeletons.get("canonical21").convert(ours, "hands2017")[0], atol=1e-4)
    with pytest.raises(HandposeError, match="frame names"):
        submission.write_hands2017_result(tmp_path / "r.txt", names[:1], ours, "canonical21")
    with pytest.raises(HandposeError, match="cannot give every joint"):
        submission.write_hands2017_result(tmp_path / "r.txt", names, ours[:, :14], "nyu14")


def test_evaluate_checkpoint_on_the_test_split_writes_result_txt(tmp_path, rng):
    root = tmp_path / "h17"
    written = fx.write_hands2017(root, rng, n_train=8, n_test=2)
    args = holdout_args(
        "train",
        TINY_CONFIG,
        tmp_path / "runs",
        "h17",
        "hands2017",
        f"data.root={root}",
        "data.center=gt",
        # As the configs do: unlabelled test crops are centred from the depth in the hand box.
        "data.eval_center=com",
    )
    assert cli(*args) == 0
    ckpt = tmp_path / "runs" / "h17" / "checkpoints" / "last.ckpt"
    out = tmp_path / "h17.json"
    argv = ["evaluate", "--checkpoint", ckpt, "--dataset", "hands2017", "--root", root, "--split", "test"]
    assert cli(*argv, "--json", out) == 0
    report = json.loads(out.read_text())
    assert report["scored"] is False and report["frames"] == 2
    path = Path(report["submission"])
    assert path.name == "hands2017_test_last_result.txt"
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    assert [r[0] for r in rows] == [f"frame\\images\\{name}" for name, _, _ in written["test"]]
    xyz = np.array([r[1:] for r in rows], dtype=float).reshape(2, 21, 3)
    # Camera-frame millimetres: every joint in front of the camera, near the rendered hands (~500 mm).
    assert np.all(np.isfinite(xyz)) and np.all((xyz[..., 2] > 200) & (xyz[..., 2] < 900))
