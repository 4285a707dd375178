"""HANDS 2019 challenge, Task 1 (depth, BigHand-based).

Layout (as published in ``Task1/``)::

    ROOT/training_joint_annotation.txt    tab-separated: image name, then 21 x (x y z) mm
    ROOT/training_images/IMG_D%08d.png    16-bit greyscale PNG, 640x480, mm (frame 0 -> IMG_D00000000.png)

Joints are camera-frame mm in the BigHand order (``hands2019``), intrinsics as HANDS 2017. Only the
training split is read: the test labels are held by the challenge server and the test files' layout
is not documented in the sources handpose relies on. ``training_mano_annotation.txt`` is not used.
"""

from __future__ import annotations

from typing import ClassVar

from handpose.datasets.base import register_dataset
from handpose.datasets.hands2017 import _BigHandReader
from handpose.geometry import CAMERAS


@register_dataset
class HANDS2019Reader(_BigHandReader):
    """HANDS 2019 Task 1 training set (see the module docstring)."""

    name = "hands2019"
    skeleton = "hands2019"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    camera = CAMERAS["hands2019"]
    label_file = "training_joint_annotation.txt"
    image_dir = "training_images"
    separator = "\t"

    def _load_labels(self) -> None:
        self._load_train()
