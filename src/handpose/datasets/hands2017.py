"""HANDS 2017 frame-based challenge (BigHand2.2M + First-Person Hand Action), depth.

Layout (as published)::

    ROOT/training/Training_Annotation.txt   one line per frame: image name + 21 x (x y z) mm
    ROOT/training/images/image_D%08d.png    16-bit greyscale PNG, 640x480, mm
    ROOT/frame/BoundingBox.txt              test: image name + 4 box numbers per line
    ROOT/frame/images/image_D%08d.png

Joints are camera-frame mm with y pointing down (A2J's ``src/hands2017.py`` projects them with
``v = y fy / z + cy``), in the BigHand order (``hands2017``). The test split has no joints (NaN,
scored on the challenge server); its box is kept raw in ``extras["box"]``. The four box numbers are
read as ``x, y, width, height`` of the top-left corner and size (**the column meaning is not
confirmed from a published specification**), giving ``extras["box_xyxy"]``; each test sample is
centred on the hand found in its box, as HANDS 2019's are. Predictions on the test split go to the
server as ``result.txt`` (:func:`handpose.evaluation.submission.write_hands2017_result`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import Sample, register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.imageio import read_depth_png16
from handpose.datasets.labeltext import read_label_table
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, xyz_to_uvd

NUM_JOINTS = 21


class _BigHandReader(DepthDatasetReader):
    """Shared by HANDS 2017 and HANDS 2019: name + 63 numbers per line, 16-bit PNG depth."""

    skeleton = "hands2017"
    camera = CAMERAS["bighand"]
    label_file: ClassVar[str] = ""
    image_dir: ClassVar[str] = ""
    separator: ClassVar[str | None] = None

    def _load_train(self) -> None:
        path = self.require(self.label_file, "the annotation file (image name + 21 x (x y z) mm per line)")
        self.require(self.image_dir, "the depth image folder")
        names, values = read_label_table(path, NUM_JOINTS * 3, sep=self.separator)
        self.frame_ids = [f"{self.image_dir}/{n}" for n in names]
        self.joints_xyz = values.reshape(-1, NUM_JOINTS, 3)
        if np.any(self.joints_xyz[..., 2] <= 0):
            row = int(np.flatnonzero((self.joints_xyz[..., 2] <= 0).any(axis=1))[0])
            raise HandposeError("a joint has non-positive depth z", path, row + 1)
        assert self.camera is not None
        self.joints_uvd = xyz_to_uvd(self.joints_xyz, self.camera)

    def _load_test_boxes(self, box_file: str, box_what: str, image_dir: str, box_format: str) -> None:
        """Read the unlabelled test frames and their hand boxes; joints stay NaN.

        Args:
            box_file: Box table relative to the root (image name + 4 numbers per line).
            box_what: What ``box_file`` is, for the message when it is missing.
            image_dir: Folder of the test depth images relative to the root.
            box_format: ``"xywh"`` (HANDS 2017) or ``"xyxy"`` (HANDS 2019).

        Raises:
            HandposeError: A missing file or folder, or a box with no area.
        """
        path = self.require(box_file, box_what)
        self.require(image_dir, "the test depth image folder")
        names, boxes = read_label_table(path, 4)
        if box_format == "xywh":
            empty = boxes[:, 2:] <= 0
            problem = "box width and height must be positive"
        else:
            empty = boxes[:, 2:] <= boxes[:, :2]
            problem = "box corners must satisfy x1 < x2 and y1 < y2"
        if np.any(empty):
            row = int(np.flatnonzero(empty.any(axis=1))[0])
            raise HandposeError(problem, path, row + 1)
        self.frame_ids = [f"{image_dir}/{n}" for n in names]
        self._boxes = boxes
        self.joints_xyz = np.full((len(names), NUM_JOINTS, 3), np.nan)
        self.joints_uvd = np.full((len(names), NUM_JOINTS, 3), np.nan)

    def _read_depth(self, index: int) -> np.ndarray:
        return read_depth_png16(self.image_path(index), size=(640, 480))


@register_dataset
class HANDS2017Reader(_BigHandReader):
    """HANDS 2017: training annotations and test bounding boxes (see the module docstring)."""

    name = "hands2017"
    skeleton = "hands2017"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    label_file = "training/Training_Annotation.txt"
    image_dir = "training/images"

    def _load_labels(self) -> None:
        if self.split == "train":
            self._load_train()
            return
        self._load_test_boxes(
            "frame/BoundingBox.txt", "the test box file (image name + 4 numbers per line)", "frame/images", "xywh"
        )

    def frame_extras(self, index: int) -> dict[str, Any]:
        if self.split == "train":
            return {}
        x, y, w, h = self._boxes[index]
        return {"box": self._boxes[index].copy(), "box_xyxy": np.array([x, y, x + w, y + h])}

    def __getitem__(self, index: int) -> Sample:
        sample = super().__getitem__(index)
        if self.split == "train" or sample.center_xyz is not None:
            return sample
        # Unlabelled test frames: the crop centre comes from the depth inside the given hand box.
        from handpose.datasets.hands2019 import box_center

        assert self.camera is not None
        box = sample.extras["box_xyxy"]
        return dataclasses.replace(sample, center_xyz=box_center(sample.image, box, self.camera.y_down()))
