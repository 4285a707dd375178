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
The training list holds 331,006 frames including the in-plane rotated copies the authors made;
``genuine_only=True`` keeps the recorded frames alone (about 22k; CrossInfoNet's Table 1 ablation
trains on them). They are told apart as DeepPrior++'s ICVL importer does (``ICVLImporter.loadSequence``,
subsequence ``'0'``): a genuine frame's path starts with a recording folder named by its timestamp
(``201403121135/...``, more than six characters), a rotated copy's with a short folder name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.imageio import read_depth_png16
from handpose.datasets.labeltext import read_label_table
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, Camera, uvd_to_xyz

ICVL_INVALID_DEPTH = 32001
NUM_JOINTS = 16
# Recording folders are timestamps (12 digits); the rotated copies' folders have at most this many characters.
ROTATED_FOLDER_MAX_CHARS = 6

# split -> (label files relative to the root, image folder relative to the root)
_SPLITS: dict[str, tuple[tuple[str, ...], str]] = {
    "train": (("Training/labels.txt",), "Training/Depth"),
    "test": (("Testing/test_seq_1.txt", "Testing/test_seq_2.txt"), "Testing/Depth"),
    "test_seq_1": (("Testing/test_seq_1.txt",), "Testing/Depth"),
    "test_seq_2": (("Testing/test_seq_2.txt",), "Testing/Depth"),
}


@register_dataset
class ICVLReader(DepthDatasetReader):
    """ICVL: 16 joints as uvd text, 16-bit PNG depth (see the module docstring for the layout).

    Args:
        root: Dataset root with ``Training/`` and ``Testing/``.
        split: ``train``, ``test``, ``test_seq_1`` or ``test_seq_2``.
        genuine_only: Training split without the in-plane rotated copies (recorded frames only).
        **kwargs: See :class:`~handpose.datasets.depthbase.DepthDatasetReader`.
    """

    name = "icvl"
    skeleton = "icvl16"
    splits: ClassVar[tuple[str, ...]] = tuple(_SPLITS)
    camera = CAMERAS["icvl"]

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        genuine_only: bool = False,
        camera: str | Camera | None = None,
        centers: str | Path | None = None,
        centers_y_up: bool = False,
    ) -> None:
        self.genuine_only = bool(genuine_only)
        super().__init__(root, split, camera=camera, centers=centers, centers_y_up=centers_y_up)

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
        uvd = np.concatenate(uvd_rows)
        if self.genuine_only:
            keep = np.array([is_genuine(n) for n in names], dtype=bool)
            if not keep.any():
                raise HandposeError(
                    "genuine_only: no recorded frame in the list (expected paths under timestamp folders such as "
                    "201403121135/)",
                    self.root / label_files[0],
                )
            names = [n for n, k in zip(names, keep) if k]
            uvd, sequence = uvd[keep], [s for s, k in zip(sequence, keep) if k]
        self._image_dir = image_dir
        self._sequence = np.asarray(sequence)
        self.frame_ids = [f"{image_dir}/{n}" for n in names]
        self.joints_uvd = uvd
        assert self.camera is not None
        self.joints_xyz = uvd_to_xyz(self.joints_uvd, self.camera)

    def _read_depth(self, index: int) -> np.ndarray:
        return read_depth_png16(self.image_path(index), size=(320, 240), invalid=ICVL_INVALID_DEPTH)

    def frame_extras(self, index: int) -> dict[str, Any]:
        if self.split == "train":
            return {}
        return {"sequence": int(self._sequence[index]) if self.split == "test" else int(self.split[-1])}


def is_genuine(name: str) -> bool:
    """Whether a label-list path is a recorded frame rather than one of the rotated copies."""
    folder = name.replace("\\", "/").split("/", 1)[0]
    return len(folder) > ROTATED_FOLDER_MAX_CHARS
