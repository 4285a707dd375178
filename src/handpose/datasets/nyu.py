"""NYU Hand Pose dataset (Tompson et al., SIGGRAPH 2014).

Layout (as published)::

    ROOT/train/joint_data.mat          joint_xyz, joint_uvd: (kinects, frames, 36, 3); joint_names
    ROOT/train/depth_1_0000001.png     frame 1 seen by kinect 1 (the frontal camera), 1-based
    ROOT/test/joint_data.mat
    ROOT/test/depth_1_%07d.png

Depth is packed in an RGB PNG, ``depth_mm = (G << 8) | B``. ``joint_xyz`` is in mm with y pointing
*up*; it is flipped on load. ``joint_uvd`` is pixel u, v (row downwards) and depth, kept as published.
Splits: ``train`` (72,757 frames), ``test`` (8,252), ``test_seq_1`` (the first 2,440 test frames)
and ``test_seq_2`` (the remaining 5,812).

Joints: ``nyu14`` (the default) are the 14 joints every published NYU number is trained and scored
on (DeepPrior's ``restrictedJointsEval``, V2V-PoseNet, CrossInfoNet), in the order of the public
8,252-line uvd files; ``joints="nyu36"`` keeps all 36 labelled joints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.imageio import read_nyu_depth
from handpose.datasets.matfile import load_mat
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, Camera
from handpose.skeleton import NYU14_FROM_NYU36

TEST_SEQ_1_FRAMES = 2440
# DeepPrior++'s test cubes per sequence (data/importers.py), mm.
SEQUENCE_CUBES: dict[int, float] = {1: 300.0, 2: 250.0}
NUM_JOINTS = 36


@register_dataset
class NYUReader(DepthDatasetReader):
    """NYU: the 14 evaluation joints (or all 36) from ``joint_data.mat``, packed-RGB depth PNGs.

    Args:
        root: Dataset root with ``train/`` and ``test/``.
        split: ``train``, ``test``, ``test_seq_1`` or ``test_seq_2``.
        joints: ``"nyu14"`` (the evaluation subset, default) or ``"nyu36"`` (all labelled joints).
        kinect: Which of the three cameras (0 = frontal, the only one used in the literature).
        sequence_cubes: Attach DeepPrior++'s per-sequence test cube to each test sample
            (``extras["cube"]``: 300 mm for sequence 1, 250 mm for sequence 2; use with
            ``DepthCropTransform(cube_from_sample=True)``).
        **kwargs: See :class:`~handpose.datasets.depthbase.DepthDatasetReader`.
    """

    name = "nyu"
    skeleton = "nyu14"
    joint_sets: ClassVar[tuple[str, ...]] = ("nyu14", "nyu36")
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "test_seq_1", "test_seq_2")
    camera = CAMERAS["nyu"]

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        joints: str = "nyu14",
        kinect: int = 0,
        sequence_cubes: bool = False,
        camera: str | Camera | None = None,
        centers: str | Path | None = None,
        centers_y_up: bool = False,
    ) -> None:
        if joints not in self.joint_sets:
            raise HandposeError(f"nyu: joints must be 'nyu36' or 'nyu14', got {joints!r}")
        if kinect not in (0, 1, 2):
            raise HandposeError(f"nyu: kinect must be 0, 1 or 2, got {kinect}")
        self.skeleton = joints  # type: ignore[misc]
        self.kinect = kinect
        self.sequence_cubes = sequence_cubes
        super().__init__(root, split, camera=camera, centers=centers, centers_y_up=centers_y_up)

    def _load_labels(self) -> None:
        folder = "train" if self.split == "train" else "test"
        path = self.require(f"{folder}/joint_data.mat", "NYU's label file (joint_xyz, joint_uvd)")
        data = load_mat(path, variable_names=["joint_xyz", "joint_uvd"])
        arrays = {}
        for key in ("joint_xyz", "joint_uvd"):
            if key not in data:
                raise HandposeError(f"missing variable {key!r} (found: {', '.join(sorted(data)) or 'none'})", path)
            arr = np.asarray(data[key])
            if arr.dtype.kind not in "fiu" or arr.ndim != 4 or arr.shape[2:] != (NUM_JOINTS, 3):
                raise HandposeError(f"{key} must be kinects x frames x 36 x 3 numbers, got shape {arr.shape}", path)
            if arr.shape[0] <= self.kinect:
                raise HandposeError(f"{key} has {arr.shape[0]} kinects; kinect index {self.kinect} asked for", path)
            arrays[key] = arr[self.kinect].astype(np.float64)
        xyz, uvd = arrays["joint_xyz"], arrays["joint_uvd"]
        if xyz.shape != uvd.shape:
            raise HandposeError(f"joint_xyz {xyz.shape} and joint_uvd {uvd.shape} disagree in frame count", path)
        for key, arr in arrays.items():
            # Beyond a kilometre is as unusable as NaN: it squares to inf in every metric.
            bad = ~(np.isfinite(arr) & (np.abs(arr) <= 1e6)).all(axis=(1, 2))
            if bad.any():
                raise HandposeError(f"{key} frame {int(np.flatnonzero(bad)[0])} is not finite or beyond +-1e6", path)
        numbers = np.arange(1, len(xyz) + 1)
        if self.split == "test_seq_1":
            keep = slice(0, TEST_SEQ_1_FRAMES)
        elif self.split == "test_seq_2":
            keep = slice(TEST_SEQ_1_FRAMES, None)
        else:
            keep = slice(None)
        xyz, uvd, numbers = xyz[keep], uvd[keep], numbers[keep]
        xyz[..., 1] = -xyz[..., 1]  # NYU's y points up; ours points down
        if self.skeleton == "nyu14":
            xyz, uvd = xyz[:, NYU14_FROM_NYU36], uvd[:, NYU14_FROM_NYU36]
        self.joints_xyz, self.joints_uvd = xyz, uvd
        self._numbers = numbers
        self.frame_ids = [f"{folder}/depth_{self.kinect + 1}_{n:07d}.png" for n in numbers]

    def _read_depth(self, index: int) -> np.ndarray:
        return read_nyu_depth(self.image_path(index))

    def frame_extras(self, index: int) -> dict[str, Any]:
        if self.split == "train":
            return {}
        sequence = 1 if self._numbers[index] <= TEST_SEQ_1_FRAMES else 2
        extras: dict[str, Any] = {"sequence": sequence}
        if self.sequence_cubes:
            extras["cube"] = SEQUENCE_CUBES[sequence]
        return extras
