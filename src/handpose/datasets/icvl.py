"""ICVL hand posture dataset (Tang et al., CVPR 2014).

Layout (as published; folder names are checked)::

    ROOT/Training/labels.txt           one line per frame: image path + 16 x (u v d)
    ROOT/Training/Depth/<path>         16-bit greyscale PNG, 320x240, mm
    ROOT/Testing/test_seq_1.txt        702 frames
    ROOT/Testing/test_seq_2.txt        894 frames
    ROOT/Testing/Depth/<path>          e.g. Testing/Depth/test_seq_1/image_0000.png

Labels are pixel u, v and depth d (mm); xyz comes from the camera (default the dataset's
fx = fy = 241.42, cx 160, cy 120; ``camera="icvl_eval"`` gives the evaluation tables' values).
Raw depth 32001 marks missing pixels (DeepPrior++'s ICVL importer) and becomes 0.
Joint order ``icvl16``: palm, then thumb, index, middle, ring, little (root, mid, tip each).
The training list holds 331,006 frames including the in-plane rotated copies the authors made.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.imageio import read_depth_png16
from handpose.datasets.labeltext import read_label_table
from handpose.geometry import CAMERAS, uvd_to_xyz

ICVL_INVALID_DEPTH = 32001
NUM_JOINTS = 16

# split -> (label files relative to the root, image folder relative to the root)
_SPLITS: dict[str, tuple[tuple[str, ...], str]] = {
    "train": (("Training/labels.txt",), "Training/Depth"),
    "test": (("Testing/test_seq_1.txt", "Testing/test_seq_2.txt"), "Testing/Depth"),
    "test_seq_1": (("Testing/test_seq_1.txt",), "Testing/Depth"),
    "test_seq_2": (("Testing/test_seq_2.txt",), "Testing/Depth"),
}


@register_dataset
class ICVLReader(DepthDatasetReader):
    """ICVL: 16 joints as uvd text, 16-bit PNG depth (see the module docstring for the layout)."""

    name = "icvl"
    skeleton = "icvl16"
    splits: ClassVar[tuple[str, ...]] = tuple(_SPLITS)
    camera = CAMERAS["icvl"]

    def _load_labels(self) -> None:
        label_files, image_dir = _SPLITS[self.split]
        names: list[str] = []
        uvd_rows: list[np.ndarray] = []
        sequence: list[int] = []
        for seq, rel in enumerate(label_files, start=1):
            path = self.require(rel, f"the label file (image path + 16 x (u v d) per line; images under {image_dir}/)")
            n, values = read_label_table(path, NUM_JOINTS * 3)
            names += n
            uvd_rows.append(values.reshape(-1, NUM_JOINTS, 3))
            sequence += [seq] * len(n)
        self.require(image_dir, "the depth image folder")
        self._image_dir = image_dir
        self._sequence = np.asarray(sequence)
        self.frame_ids = [f"{image_dir}/{n}" for n in names]
        self.joints_uvd = np.concatenate(uvd_rows)
        assert self.camera is not None
        self.joints_xyz = uvd_to_xyz(self.joints_uvd, self.camera)

    def _read_depth(self, index: int) -> np.ndarray:
        return read_depth_png16(self.image_path(index), size=(320, 240), invalid=ICVL_INVALID_DEPTH)

    def frame_extras(self, index: int) -> dict[str, Any]:
        if self.split == "train":
            return {}
        return {"sequence": int(self._sequence[index]) if self.split == "test" else int(self.split[-1])}
