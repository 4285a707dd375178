"""Valid, tiny dataset folders for every reader, and where each keeps the file its labels come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fixtures import depth_formats as dfx
from fixtures import rgb_formats as rfx


@dataclass(frozen=True)
class Layout:
    """A reader's folder: ``handpose data check`` arguments and its label and image files.

    Attributes:
        dataset: Registered reader name.
        split: Split to read.
        label: The file (relative to the root) the reader takes its labels from.
        kind: What that file is: ``text``, ``named`` (text with image names), ``mat``, ``pickle``,
            ``json`` or ``npy``.
        image: One image file (relative) the reader decodes.
        options: ``--option`` values.
    """

    dataset: str
    split: str
    label: str
    kind: str
    image: str
    options: tuple[str, ...] = ()


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _synthetic(root: Path) -> None:
    from handpose.cli import main

    assert main(["synth", str(root), "--count", "2", "--modality", "depth", "--camera", "icvl", "--overwrite"]) == 0


WRITERS: dict[str, tuple[Callable[[Path], object], Layout]] = {
    "icvl": (
        lambda r: dfx.write_icvl(r, _rng(), n_train=2, n_test=(1, 1)),
        Layout("icvl", "train", "Training/labels.txt", "named", "Training/Depth/201403121135/image_0000.png"),
    ),
    "nyu": (
        lambda r: dfx.write_nyu(r, _rng(), n_train=2, n_test=2, test_images=(0, 1)),
        Layout("nyu", "train", "train/joint_data.mat", "mat", "train/depth_1_0000001.png"),
    ),
    "msra": (
        lambda r: dfx.write_msra(r, _rng(), subjects=tuple(range(9)), gestures=("1",), frames=1),
        Layout("msra", "all", "P0/1/joint.txt", "msra", "P0/1/000000_depth.bin"),
    ),
    "hands2017": (
        lambda r: dfx.write_hands2017(r, _rng(), n_train=2, n_test=1),
        Layout(
            "hands2017", "train", "training/Training_Annotation.txt", "named", "training/images/image_D00000001.png"
        ),
    ),
    "hands2019": (
        lambda r: dfx.write_hands2019(r, _rng(), n=2),
        Layout("hands2019", "train", "training_joint_annotation.txt", "named", "training_images/IMG_D00000000.png"),
    ),
    "ho3d": (
        lambda r: dfx.write_ho3d(r, _rng(), n_train=2, n_eval=1),
        Layout("ho3d", "train", "train/ABF10/meta/0000.pkl", "pickle", "train/ABF10/depth/0000.png"),
    ),
    "rhd": (
        lambda r: rfx.write_rhd(r, _rng(), split="evaluation", count=2),
        Layout("rhd", "test", "evaluation/anno_evaluation.pickle", "pickle", "evaluation/color/00000.png"),
    ),
    "stb": (
        lambda r: rfx.write_stb(r, _rng(), sequences=("B1Counting", "B1Random"), frames=1),
        Layout("stb", "test", "labels/B1Counting_SK.mat", "mat", "images/B1Counting/SK_color_0.png"),
    ),
    "freihand": (
        lambda r: rfx.write_freihand(r, _rng(), count=1, eval_count=1),
        Layout("freihand", "train", "training_xyz.json", "json", "training/rgb/00000000.jpg"),
    ),
    "ganerated": (
        lambda r: rfx.write_ganerated(r, _rng(), partitions=("0001",)),
        Layout(
            "ganerated",
            "all",
            "data/noObject/0001/0001_joint_pos_global.txt",
            "numbers",
            "data/noObject/0001/0001_color_composed.png",
        ),
    ),
    "synthhands": (
        lambda r: rfx.write_synthhands(r, _rng(), sequences=("seq01",)),
        Layout(
            "synthhands",
            "all",
            "female_noobject/seq01/cam01/01/00000000_joint_pos.txt",
            "numbers",
            "female_noobject/seq01/cam01/01/00000000_color.png",
        ),
    ),
    "dexter": (
        lambda r: rfx.write_dexter(r, _rng(), frames=2),
        Layout("dexter", "test", "data/Grasp1/annotations/Grasp13D.txt", "dexter", "data/Grasp1/color/image_00000.png"),
    ),
    "synthetic": (_synthetic, Layout("synthetic", "all", "joints.npy", "npy", "depth/000000.png")),
}


def write_dataset(name: str, root: Path) -> Layout:
    """Write the valid folder of reader ``name`` under ``root``; return its layout."""
    writer, layout = WRITERS[name]
    root.mkdir(parents=True, exist_ok=True)
    writer(root)
    return layout
