"""RHD + STB trained as one dataset (``data.mix``) and scored on Dexter+Object, as Learnable Groups does."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fixtures import rgb_formats as rx
from handpose.checkpoint_file import read_checkpoint
from handpose.errors import HandposeError
from handpose.training.config import load_config
from handpose.training.mixture import MixedReader, holdout_indices, open_mixture
from training_helpers import QUICK_RGB, REPO, check_dexter_fingertips, cli, holdout_args

CONFIG = REPO / "configs" / "synthetic" / "learnable_groups_k3_cpu.yaml"


def _mix(rhd, stb) -> str:
    return (
        f"data.mix=[{{dataset: rhd, root: '{rhd}'}}, "
        f"{{dataset: stb, root: '{stb}', reader_kwargs: {{sequences: [B2Counting]}}}}]"
    )


def _write(tmp_path):
    rhd, stb = tmp_path / "rhd", tmp_path / "stb"
    rx.write_rhd(rhd, np.random.default_rng(5), split="training", count=4)
    stb_truth = rx.write_stb(stb, np.random.default_rng(6), ("B2Counting",), frames=4)
    return rhd, stb, stb_truth


def test_mixture_concatenates_in_canonical21_and_holds_out_each_source(tmp_path):
    from handpose.training.datamodule import open_split

    rhd, stb, stb_truth = _write(tmp_path)
    cfg = load_config(CONFIG, ["data.dataset=mix", _mix(rhd, stb)])
    reader = open_mixture(cfg.data.mix, "train", open_split)
    assert isinstance(reader, MixedReader) and len(reader) == 8 and reader.modality == "rgb"
    first, last = reader[0], reader[7]
    assert first.skeleton == last.skeleton == "canonical21"
    assert first.frame_id.startswith("rhd/") and last.frame_id.startswith("stb/")
    # STB's last frame comes back with its fingertips where the file put them (stb21 -> canonical21).
    from handpose import skeleton

    tips = skeleton.get("stb21").convert(stb_truth["B2Counting"][3], "canonical21")
    names = skeleton.get("canonical21").joint_names
    for tip in ("thumb_tip", "index_tip", "little_tip"):
        k = names.index(tip)
        np.testing.assert_allclose(last.joints_xyz[k], tips[k], atol=1e-3)
    assert reader.labels_xyz().shape == (8, 21, 3)
    train, val = holdout_indices(reader, 0.25)
    assert val.tolist() == [3, 7] and train.tolist() == [0, 1, 2, 4, 5, 6]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["data.dataset=mix"], "data.mix"),
        (["data.dataset=rhd", "data.root=x", "data.mix=[{dataset: stb, root: y}]"], "data.mix"),
        (["data.dataset=mix", "data.mix=[{dataset: stb}]"], "data.mix[0]"),
        (["data.dataset=mix", "data.mix=[{dataset: stb, root: y, camera: z}]"], "unknown key data.mix[0].camera"),
    ],
)
def test_mixture_mistakes_name_the_key(overrides, needle):
    with pytest.raises(HandposeError, match=re.escape(needle)):
        load_config(CONFIG, overrides)


def test_rhd_stb_model_scores_dexter_object_fingertips(tmp_path):
    rhd, stb, _ = _write(tmp_path)
    args = holdout_args("train", CONFIG, tmp_path / "runs", "mix", "mix", _mix(rhd, stb), *QUICK_RGB)
    assert cli(*args) == 0
    run = tmp_path / "runs" / "mix"
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["train_frames"], summary["val_frames"]) == (6, 2)  # one frame of each source held out
    ckpt = run / "checkpoints" / "last.ckpt"
    contract, _, _ = read_checkpoint(ckpt)
    assert contract.skeleton == "canonical21" and contract.training_data["dataset"] == "rhd+stb"
    check_dexter_fingertips(ckpt, tmp_path, seed=7)
