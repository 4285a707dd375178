"""Shared machinery of the depth readers: a label table in memory, images loaded one at a time.

A depth reader fills ``frame_ids`` (image paths relative to the root), ``joints_xyz`` and
``joints_uvd`` (``(N, J, 3)``, handpose's camera frame, NaN where unknown) in ``_load_labels``, and
decodes one frame in ``_read_depth``. Optional hand-centre files (V2V text, A2J .mat, see
:mod:`handpose.datasets.centers`) attach a ``center_xyz`` to every sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.base import DatasetReader, Sample
from handpose.datasets.centers import load_centers
from handpose.errors import HandposeError
from handpose.geometry import Camera, get_camera
from handpose.safe_read import inside_root


class DepthDatasetReader(DatasetReader):
    """Base of the depth readers.

    Args:
        root: Dataset root, laid out as published (see ``docs/datasets.md``).
        split: One of ``splits``.
        camera: Override the intrinsics used to convert between uvd and xyz (a preset name such as
            ``"icvl_eval"`` or ``"fx,fy,cx,cy"``).
        centers: A hand-centre file with one entry per frame of this split.
        centers_y_up: The centre file is V2V text with y pointing up (V2V's NYU and MSRA files).
    """

    modality = "depth"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        camera: str | Camera | None = None,
        centers: str | Path | None = None,
        centers_y_up: bool = False,
    ) -> None:
        super().__init__(root, split)
        if camera is not None:
            self.camera = get_camera(camera).y_down()
        self.frame_ids: list[str] = []
        self.joints_xyz = np.zeros((0, 0, 3))
        self.joints_uvd = np.zeros((0, 0, 3))
        self._load_labels()
        self.centers: np.ndarray | None = None
        if centers is not None:
            assert self.camera is not None
            c = load_centers(centers, self.camera, y_up=centers_y_up)
            if len(c) != len(self.frame_ids):
                raise HandposeError(
                    f"centre file has {len(c)} entries but the split has {len(self.frame_ids)} frames", centers
                )
            self.centers = c

    # -- to implement -----------------------------------------------------------------------------
    def _load_labels(self) -> None:
        raise NotImplementedError

    def _read_depth(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def image_path(self, index: int) -> Path:
        """File holding frame ``index``'s depth; refused when a label names a path (or symlink) leaving the root."""
        path = self.root / self.frame_ids[index]
        inside_root(self.root, path, self.root)
        return path

    def frame_camera(self, index: int) -> Camera:
        assert self.camera is not None
        return self.camera

    def frame_extras(self, index: int) -> dict[str, Any]:
        return {}

    def frame_visibility(self, index: int) -> np.ndarray:
        return np.all(np.isfinite(self.joints_xyz[index]), axis=-1)

    # -- the sequence protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame_ids)

    def labels_xyz(self) -> np.ndarray:
        return self.joints_xyz

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        index %= n
        center = None
        if self.centers is not None and np.all(np.isfinite(self.centers[index])):
            center = self.centers[index].copy()
        return Sample(
            image=self._read_depth(index),
            joints_xyz=self.joints_xyz[index].astype(np.float64, copy=True),
            joints_uvd=self.joints_uvd[index].astype(np.float64, copy=True),
            visibility=self.frame_visibility(index),
            camera=self.frame_camera(index),
            skeleton=self.skeleton,
            frame_id=self.frame_ids[index],
            modality="depth",
            center_xyz=center,
            extras=self.frame_extras(index),
        )

    # -- helpers for subclasses -------------------------------------------------------------------
    def require(self, relative: str, what: str) -> Path:
        """``root / relative`` if it exists, else a layout error saying what was expected where."""
        path = self.root / relative
        if not path.exists():
            raise HandposeError(f"{self.name} layout: expected {what} at {relative} under the dataset root", self.root)
        return path
