"""GANerated Hands (Mueller et al. CVPR'18) reader.

Layout::

    <root>/data/{noObject,withObject}/<partition>/<frame>_color_composed.png   256x256 crop
    <root>/data/.../<frame>_crop_params.txt       u_offset, v_offset, scale (one comma-separated line)
    <root>/data/.../<frame>_joint2D.txt           21 x (u, v) in crop pixels
    <root>/data/.../<frame>_joint_pos_global.txt  21 x (x, y, z) camera mm
    <root>/data/.../<frame>_joint_pos.txt         root-relative, normalised (not used)

The images are crops of a 640x480 frame seen by the ``ganerated`` camera (fx = fy = 617.173,
cx = 315.453, cy = 242.259). The crop camera moves the principal point by the offset and scales
(``Camera.crop(u_offset, v_offset, scale)``), as chainer-hand-pose does; ``joint2D`` is kept in
``extras`` for checking. Joints are in the canonical (SNAP) order, labelled as a left hand.

No official split exists. Following chainer-hand-pose, ``test`` holds partitions 0001-0003 of both
folders, ``train`` the rest, ``all`` everything. Labels are read per frame (the dataset has ~330k
small files), so the constructor only lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose.datasets.base import DatasetReader, Sample, labelled_sample, register_dataset
from handpose.datasets.rgbio import check_hand_size, read_numbers, read_rgb
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, Camera

FOLDERS = ("noObject", "withObject")
TEST_PARTITIONS = ("0001", "0002", "0003")
_SUFFIX = "_joint_pos_global.txt"


@register_dataset
class GANeratedReader(DatasetReader):
    """GANerated Hands crops with their crop cameras, joints in camera mm.

    Args:
        root: The ``GANeratedHands_Release`` folder (holding ``data/``), or ``data/`` itself.
        split: ``"train"``, ``"test"`` (partitions 0001-0003) or ``"all"``.
    """

    name: ClassVar[str] = "ganerated"
    modality = "rgb"
    skeleton: ClassVar[str] = "ganerated21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")
    units: ClassVar[str] = "mm"
    camera = CAMERAS["ganerated"]  # the full frame; each sample carries its crop camera

    def __init__(self, root: str | Path, split: str = "train") -> None:
        super().__init__(root, split)
        data = self.root / "data" if (self.root / "data").is_dir() else self.root
        if not any((data / f).is_dir() for f in FOLDERS):
            raise HandposeError("ganerated: no data/noObject or data/withObject folder", self.root)
        self.data_dir = data
        self.stems: list[Path] = []
        for folder in FOLDERS:
            if not (data / folder).is_dir():
                continue
            for part in sorted(p for p in (data / folder).iterdir() if p.is_dir()):
                held_out = part.name in TEST_PARTITIONS
                if split == "all" or held_out == (split == "test"):
                    self.stems += [
                        # Every label file counts: a pipe or folder in its place is reported when read, not skipped.
                        Path(str(f)[: -len(_SUFFIX)])
                        for f in sorted(part.glob(f"*{_SUFFIX}"))
                    ]

    def __len__(self) -> int:
        return len(self.stems)

    def image_path(self, index: int) -> Path:
        """Colour crop of frame ``index``."""
        return Path(f"{self.stems[index]}_color_composed.png")

    def _labels(self, index: int) -> tuple[np.ndarray, Camera, np.ndarray]:
        stem = self.stems[index]
        xyz_path = Path(f"{stem}{_SUFFIX}")
        xyz = read_numbers(xyz_path, 63).reshape(21, 3)
        check_hand_size(xyz, xyz_path)
        crop_path = Path(f"{stem}_crop_params.txt")
        u0, v0, scale = read_numbers(crop_path, 3)
        if scale <= 0:
            raise HandposeError(f"crop scale must be positive, got {scale:g}", crop_path)
        camera = self.camera.crop(u0, v0, scale, size=(256, 256))
        joint2d_path = Path(f"{stem}_joint2D.txt")
        joint2d = read_numbers(joint2d_path, 42).reshape(21, 2) if joint2d_path.is_file() else np.full((21, 2), np.nan)
        return xyz, camera, joint2d

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        xyz, camera, joint2d = self._labels(index)
        stem = self.stems[index]
        image = read_rgb(self.image_path(index))
        camera = Camera(camera.fx, camera.fy, camera.cx, camera.cy, image.shape[1], image.shape[0], "ganerated_crop")
        return labelled_sample(
            image,
            xyz,
            camera,
            self.skeleton,
            str(stem.relative_to(self.data_dir)) + "_color_composed.png",
            "rgb",
            handedness="left",
            extras={"joint2D": joint2d},
        )

    def labels_xyz(self) -> np.ndarray:
        return np.stack([self._labels(i)[0] for i in range(len(self))]) if self.stems else np.zeros((0, 21, 3))
