"""SynthHands (Mueller et al. ICCV'17) reader.

Layout::

    <root>/{male,female}_{object,noobject}/seq01..seq07/cam01..cam05/01..03/
        %08d_color.png            640x480, colour camera
        %08d_color_on_depth.png   colour registered to the depth camera
        %08d_depth.png
        %08d_joint_pos.txt        21 x (x, y, z), mm, depth-camera frame (comma separated)

Joints are moved to the colour camera by the published translation ``t = (24.7, -0.0471401, 3.72045)``
mm (``xyz_colour = xyz_depth + t``; chainer-hand-pose ``synth_dataset.py``) and seen with the
``synthhands_color`` intrinsics. ``image="color_on_depth"`` reads the registered images instead and
keeps the depth camera (``synthhands_depth``, no translation). Canonical (SNAP) order, left hands.

No official split exists; handpose holds out ``seq07`` of every folder as ``test`` (``train`` =
seq01-seq06, ``all`` = everything). Labels are read per frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose.datasets.base import DatasetReader, Sample, labelled_sample, register_dataset
from handpose.datasets.rgbio import check_hand_size, read_numbers, read_rgb
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS

DEPTH_TO_COLOR_MM = np.array([24.7, -0.0471401, 3.72045])
FOLDERS = tuple(f"{sex}_{obj}" for sex in ("male", "female") for obj in ("object", "noobject"))
TEST_SEQUENCES = ("seq07",)
_SUFFIX = "_joint_pos.txt"


@register_dataset
class SynthHandsReader(DatasetReader):
    """SynthHands frames, joints in the colour (or depth) camera, mm.

    Args:
        root: The ``SynthHands_Release`` folder.
        split: ``"train"`` (seq01-06), ``"test"`` (seq07) or ``"all"``.
        image: ``"color"`` or ``"color_on_depth"``.
    """

    name: ClassVar[str] = "synthhands"
    modality = "rgb"
    skeleton: ClassVar[str] = "synthhands21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")
    units: ClassVar[str] = "mm"
    camera = CAMERAS["synthhands_color"]

    def __init__(self, root: str | Path, split: str = "train", image: str = "color") -> None:
        super().__init__(root, split)
        if image not in ("color", "color_on_depth"):
            raise HandposeError(f"synthhands: image must be 'color' or 'color_on_depth', got {image!r}")
        self.image_kind = image
        if image == "color_on_depth":
            self.camera = CAMERAS["synthhands_depth"]
            self.translation = np.zeros(3)
        else:
            self.translation = DEPTH_TO_COLOR_MM
        if not any((self.root / f).is_dir() for f in FOLDERS):
            raise HandposeError(f"synthhands: none of {', '.join(FOLDERS)} found", self.root)
        self.stems: list[Path] = []
        for folder in FOLDERS:
            base = self.root / folder
            if not base.is_dir():
                continue
            for seq in sorted(p for p in base.iterdir() if p.is_dir()):
                held_out = seq.name in TEST_SEQUENCES
                if split != "all" and held_out != (split == "test"):
                    continue
                self.stems += [Path(str(f)[: -len(_SUFFIX)]) for f in sorted(seq.glob(f"cam*/*/*{_SUFFIX}"))]

    def __len__(self) -> int:
        return len(self.stems)

    def image_path(self, index: int) -> Path:
        """Colour image of frame ``index``."""
        return Path(f"{self.stems[index]}_{self.image_kind}.png")

    def _joints(self, index: int) -> np.ndarray:
        path = Path(f"{self.stems[index]}{_SUFFIX}")
        xyz = read_numbers(path, 63).reshape(21, 3)
        check_hand_size(xyz, path)
        return xyz + self.translation

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        xyz = self._joints(index)
        stem = self.stems[index]
        image = read_rgb(self.image_path(index))
        return labelled_sample(
            image,
            xyz,
            self.camera,
            self.skeleton,
            f"{stem.relative_to(self.root)}_{self.image_kind}.png",
            "rgb",
            handedness="left",
        )

    def labels_xyz(self) -> np.ndarray:
        return np.stack([self._joints(i) for i in range(len(self))]) if self.stems else np.zeros((0, 21, 3))
