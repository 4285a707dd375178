"""HANDS 2019 challenge, Task 1 (depth, BigHand-based).

Layout (as published in ``Task1/``)::

    ROOT/training_joint_annotation.txt    tab-separated: image name, then 21 x (x y z) mm
    ROOT/training_images/IMG_D%08d.png    16-bit greyscale PNG, 640x480, mm (frame 0 -> IMG_D00000000.png)
    ROOT/test_bbs.txt                     test: image name + hand box x1 y1 x2 y2 (pixels) per line
    ROOT/test_images/IMG_D%08d.png

Joints are camera-frame mm in the BigHand order (``hands2019``), intrinsics as HANDS 2017.
``training_mano_annotation.txt`` is not used. The test labels are held by the challenge server: the
``test`` split has no joints (NaN); its results go to the server as ``result.txt``
(:func:`handpose.evaluation.submission.write_hands2019_result`). The test box columns are read as
corners ``x1 y1 x2 y2``, as a public challenge entry reads them (**not confirmed from an official
specification**); each test sample's centre is the hand found in its box (:func:`box_center`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import Sample, register_dataset
from handpose.datasets.centers import detect_center
from handpose.datasets.hands2017 import _BigHandReader
from handpose.geometry import CAMERAS, Camera

# The HANDS 2019 toolbox crops a 300 mm cube around the hand.
TEST_CUBE_MM = 300.0


@register_dataset
class HANDS2019Reader(_BigHandReader):
    """HANDS 2019 Task 1: the training set, and the test frames with their hand boxes (see the module docstring)."""

    name = "hands2019"
    skeleton = "hands2019"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    camera = CAMERAS["hands2019"]
    label_file = "training_joint_annotation.txt"
    image_dir = "training_images"
    separator = "\t"

    def _load_labels(self) -> None:
        if self.split == "train":
            self._load_train()
            return
        self._load_test_boxes(
            "test_bbs.txt", "the test box file (image name + x1 y1 x2 y2 per line)", "test_images", "xyxy"
        )

    def frame_extras(self, index: int) -> dict[str, Any]:
        if self.split == "train":
            return {}
        return {"box_xyxy": self._boxes[index].copy()}

    def __getitem__(self, index: int) -> Sample:
        sample = super().__getitem__(index)
        if self.split == "train" or sample.center_xyz is not None:
            return sample
        assert self.camera is not None
        return dataclasses.replace(
            sample, center_xyz=box_center(sample.image, self._boxes[index % len(self)], self.camera.y_down())
        )


def box_center(depth: np.ndarray, box_xyxy: np.ndarray, camera: Camera, cube: float = TEST_CUBE_MM) -> np.ndarray:
    """The hand's centre (camera mm) from the depth inside a box: the nearest surface there, refined.

    Raises:
        HandposeError: No valid depth inside the box.
    """
    h, w = depth.shape
    x1, y1, x2, y2 = np.asarray(box_xyxy, dtype=np.float64)
    x1, y1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
    x2, y2 = min(int(np.ceil(x2)), w), min(int(np.ceil(y2)), h)
    inside = np.zeros_like(depth)
    inside[y1:y2, x1:x2] = depth[y1:y2, x1:x2]
    return detect_center(inside, camera, cube=cube)
