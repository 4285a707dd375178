"""HO-3D v3 (Hampali et al., CVPR 2020), depth modality.

Layout (as published)::

    ROOT/train.txt, ROOT/evaluation.txt     optional frame lists, one "SEQ/ID" per line
    ROOT/train/<SEQ>/depth/<ID>.png         3-channel PNG: depth_m = (R + 256 G) * 0.00012498664727900177
    ROOT/train/<SEQ>/meta/<ID>.pkl          dict: camMat (3x3), handJoints3D (21x3 m), MANO, object pose
    ROOT/evaluation/<SEQ>/...               same; handJoints3D is the root joint only, plus handBoundingBox

Without a list file the frames are every ``meta/*.pkl`` found, sorted. Meta pickles are read with
:func:`~handpose.datasets.unpickle.safe_load` (plain containers and numpy arrays only).

Coordinates: HO-3D stores OpenGL camera axes (y up, z towards the viewer, the hand at negative z)
in metres; they are converted to handpose's frame (x right, y down, z forward) in mm on load.
Intrinsics come from each frame's ``camMat``. Joint order ``ho3d21``.

Evaluation split: only the root joint (the wrist, index 0) is known; every other joint is NaN and
invisible, and ``extras`` holds ``root_xyz`` and ``box`` (``handBoundingBox`` as stored, pixel
x0, y0, x1, y1). Scores for this split come from the challenge server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import Sample, register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.imageio import read_ho3d_depth
from handpose.datasets.unpickle import safe_load
from handpose.errors import HandposeError
from handpose.geometry import Camera, xyz_to_uvd
from handpose.safe_read import read_bytes

NUM_JOINTS = 21
# OpenGL (x right, y up, z backwards) -> handpose (x right, y down, z forward).
_OPENGL_TO_OURS = np.array([1.0, -1.0, -1.0])


def _numeric(value: Any, shape: tuple[int, ...], key: str, path: Path) -> np.ndarray:
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise HandposeError(f"{key} is not numeric", path) from None
    if raw.dtype.kind not in "iuf":  # numbers stored as strings or objects are not the published format
        raise HandposeError(f"{key} is not numeric (holds {raw.dtype} values)", path)
    arr = raw.astype(np.float64)
    if arr.shape != shape:
        raise HandposeError(f"{key} must have shape {shape}, got {arr.shape}", path)
    if not np.isfinite(arr).all() or np.abs(arr).max() > 1e6:
        raise HandposeError(f"{key} is not finite (NaN or inf) or beyond +-1e6", path)
    return arr


@register_dataset
class HO3DReader(DepthDatasetReader):
    """HO-3D v3 depth frames with 21 hand joints (see the module docstring).

    Args:
        root: Dataset root holding ``train/`` and ``evaluation/``.
        split: ``train`` or ``evaluation`` (``test`` is the same as ``evaluation``).
    """

    name = "ho3d"
    skeleton = "ho3d21"
    splits: ClassVar[tuple[str, ...]] = ("train", "evaluation", "test")
    camera = None

    def __init__(self, root: str | Path, split: str = "train") -> None:
        super().__init__(root, split)

    @property
    def folder(self) -> str:
        return "train" if self.split == "train" else "evaluation"

    def _load_labels(self) -> None:
        split_dir = self.require(self.folder, f"the {self.folder}/ folder with <SEQ>/depth and <SEQ>/meta")
        list_file = self.root / f"{self.folder}.txt"
        keys: list[str] = []
        if list_file.is_file():
            listed = read_bytes(list_file, "list", "frame list", self.root).decode("utf-8", errors="replace")
            for lineno, line in enumerate(listed.splitlines(), 1):
                entry = line.strip()
                if not entry:
                    continue
                parts = entry.split("/")
                if len(parts) != 2 or not all(parts) or ".." in parts:
                    raise HandposeError(f"expected SEQ/ID, got {entry[:60]!r}", list_file, lineno)
                keys.append(entry)
        else:
            keys = sorted(f"{p.parent.parent.name}/{p.stem}" for p in split_dir.glob("*/meta/*.pkl"))
        if not keys:
            raise HandposeError(f"ho3d layout: no frames (expected {self.folder}/<SEQ>/meta/<ID>.pkl)", self.root)
        self._keys = keys
        self.frame_ids = [f"{self.folder}/{k.split('/')[0]}/depth/{k.split('/')[1]}.png" for k in keys]
        n = len(keys)
        self.joints_xyz = np.full((n, NUM_JOINTS, 3), np.nan)
        self.joints_uvd = np.full((n, NUM_JOINTS, 3), np.nan)
        self._loaded = np.zeros(n, bool)
        self._cameras: dict[int, Camera] = {}
        self._extras: dict[int, dict[str, Any]] = {}

    def meta_path(self, index: int) -> Path:
        seq, frame = self._keys[index].split("/")
        return self.root / self.folder / seq / "meta" / f"{frame}.pkl"

    def _ensure(self, index: int) -> None:
        if self._loaded[index]:
            return
        path = self.meta_path(index)
        if not path.is_file():
            raise HandposeError("missing meta file", path)
        meta = safe_load(path)
        if not isinstance(meta, dict):
            raise HandposeError(f"meta pickle must hold a dict, got {type(meta).__name__}", path)
        if meta.get("camMat") is None:
            raise HandposeError("meta has no camMat", path)
        cam = Camera.from_K(_numeric(meta["camMat"], (3, 3), "camMat", path), 640, 480, "ho3d")
        if not np.all(np.isfinite([cam.fx, cam.fy, cam.cx, cam.cy])) or cam.fx <= 0 or cam.fy <= 0:
            raise HandposeError("camMat has non-positive or non-finite focal lengths", path)
        joints = meta.get("handJoints3D")
        extras: dict[str, Any] = {"sequence": self._keys[index].split("/")[0]}
        xyz = np.full((NUM_JOINTS, 3), np.nan)
        if joints is not None:
            if self.folder == "train":
                xyz = _numeric(joints, (NUM_JOINTS, 3), "handJoints3D", path) * _OPENGL_TO_OURS * 1000.0
            else:
                root = _numeric(joints, (3,), "handJoints3D (the root joint)", path) * _OPENGL_TO_OURS * 1000.0
                xyz[0] = root
                extras["root_xyz"] = root
            known = xyz if self.folder == "train" else xyz[:1]
            if not np.all(np.isfinite(known)):
                raise HandposeError("handJoints3D is not finite", path)
            if np.any(known[:, 2] <= 0):
                raise HandposeError("hand joints must lie in front of the camera (OpenGL z < 0)", path)
        box = meta.get("handBoundingBox")
        if box is not None:
            extras["box"] = _numeric(box, (4,), "handBoundingBox", path)
        self.joints_xyz[index] = xyz
        self.joints_uvd[index] = xyz_to_uvd(xyz, cam)
        self._cameras[index] = cam
        self._extras[index] = extras
        self._loaded[index] = True

    def labels_xyz(self) -> np.ndarray:
        for i in range(len(self)):
            self._ensure(i)
        return self.joints_xyz

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        self._ensure(index % n)
        return super().__getitem__(index)

    def frame_camera(self, index: int) -> Camera:
        self._ensure(index)
        return self._cameras[index]

    def frame_extras(self, index: int) -> dict[str, Any]:
        return dict(self._extras[index])

    def _read_depth(self, index: int) -> np.ndarray:
        return read_ho3d_depth(self.image_path(index), size=(640, 480))
