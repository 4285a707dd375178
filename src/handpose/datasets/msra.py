"""MSRA 2015 hand gesture dataset (Sun et al., "Cascaded Hand Pose Regression", CVPR 2015).

Layout (as published)::

    ROOT/P0 .. P8/<gesture>/joint.txt        first line N, then N lines of 21 x (x y z) mm
    ROOT/P0 .. P8/<gesture>/%06d_depth.bin   six int32 (width, height, left, top, right, bottom),
                                             then (right-left) x (bottom-top) float32 depths (mm)

Gestures: 1-9, I, IP, L, MP, RP, T, TIP, Y. The depth box covers columns [left, right) and rows
[top, bottom) of a 320x240 image; everything else is missing (0). Labels have y pointing up and z
negative in front of the camera (as DeepPrior++ and V2V read them); both are negated on load.

Protocol: leave one subject out. ``split="test", subject=k`` is subject Pk's frames; ``split="train",
subject=k`` the other eight subjects; ``split="all"`` every subject.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import register_dataset
from handpose.datasets.depthbase import DepthDatasetReader
from handpose.datasets.labeltext import read_label_table
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, Camera, xyz_to_uvd
from handpose.safe_read import open_regular

GESTURES: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")
SUBJECTS = 9
NUM_JOINTS = 21
IMAGE_SIZE = (320, 240)
# DeepPrior++'s per-subject test cubes (data/importers.py), mm.
SUBJECT_CUBES: dict[int, float] = {
    0: 200.0,
    1: 200.0,
    2: 200.0,
    3: 180.0,
    4: 180.0,
    5: 180.0,
    6: 170.0,
    7: 160.0,
    8: 150.0,
}


def read_msra_depth(path: str | Path, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """One MSRA ``.bin`` frame as a full ``(H, W)`` float32 depth image (0 outside the stored box).

    Raises:
        HandposeError: Header inconsistent with ``size``, a box outside the image, or a file whose
            length differs from what the header declares. Checked before any allocation.
    """
    path = Path(path)
    try:
        with open_regular(path, "depth file") as fh:
            header = fh.read(24)
            if len(header) < 24:
                raise HandposeError(f"truncated MSRA depth file ({len(header)} bytes; the header alone is 24)", path)
            width, height, left, top, right, bottom = struct.unpack("<6i", header)
            if (width, height) != tuple(size):
                raise HandposeError(f"header says {width}x{height} image, expected {size[0]}x{size[1]}", path)
            if not (0 <= left < right <= width and 0 <= top < bottom <= height):
                raise HandposeError(
                    f"header box left={left} top={top} right={right} bottom={bottom} is outside the "
                    f"{width}x{height} image",
                    path,
                )
            count = (right - left) * (bottom - top)
            payload = fh.read(4 * count + 1)
    except FileNotFoundError:
        raise HandposeError("missing depth file", path) from None
    except OSError as exc:
        raise HandposeError(f"cannot read depth file: {exc.strerror}", path) from None
    if len(payload) != 4 * count:
        claim = f"header declares {count} float32 values ({4 * count} bytes) after the header"
        raise HandposeError(f"{claim}, file holds {len(payload) if len(payload) <= 4 * count else 'more'} bytes", path)
    box = np.frombuffer(payload, dtype="<f4").reshape(bottom - top, right - left)
    if not np.all(np.isfinite(box)):
        raise HandposeError("depth values are not finite", path)
    depth = np.zeros((height, width), np.float32)
    depth[top:bottom, left:right] = box
    return depth


def write_msra_depth(path: str | Path, depth: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Write ``depth[top:bottom, left:right]`` in MSRA's format (atomically); ``box`` = (left, top, right, bottom)."""
    from handpose.io import write_bytes_atomic

    left, top, right, bottom = box
    h, w = depth.shape
    header = struct.pack("<6i", w, h, left, top, right, bottom)
    write_bytes_atomic(path, header + np.ascontiguousarray(depth[top:bottom, left:right], dtype="<f4").tobytes())


def _gesture_key(name: str) -> tuple[int, str]:
    return (GESTURES.index(name), "") if name in GESTURES else (len(GESTURES), name)


@register_dataset
class MSRAReader(DepthDatasetReader):
    """MSRA 2015: 9 subjects x 17 gestures, binary cropped depth, 21 joints.

    Args:
        root: Folder holding ``P0`` .. ``P8``.
        split: ``train`` (all but ``subject``), ``test`` (``subject``) or ``all``.
        subject: The held-out subject, 0-8.
        subject_cubes: Attach DeepPrior++'s per-subject cube to each sample (``extras["cube"]``;
            use with ``DepthCropTransform(cube_from_sample=True)``).
        **kwargs: See :class:`~handpose.datasets.depthbase.DepthDatasetReader`.
    """

    name = "msra"
    skeleton = "msra21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")
    camera = CAMERAS["msra"]

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        subject: int = 0,
        subject_cubes: bool = False,
        camera: str | Camera | None = None,
        centers: str | Path | None = None,
        centers_y_up: bool = False,
    ) -> None:
        if isinstance(subject, bool) or not isinstance(subject, int) or not 0 <= subject < SUBJECTS:
            raise HandposeError(f"msra: subject must be a whole number 0-8, got {subject!r}")
        self.subject = int(subject)
        self.subject_cubes = subject_cubes
        super().__init__(root, split, camera=camera, centers=centers, centers_y_up=centers_y_up)

    def _subjects(self) -> list[int]:
        if self.split == "test":
            return [self.subject]
        if self.split == "train":
            return [s for s in range(SUBJECTS) if s != self.subject]
        return list(range(SUBJECTS))

    def _load_labels(self) -> None:
        ids: list[str] = []
        xyz_parts: list[np.ndarray] = []
        subjects: list[int] = []
        gestures: list[str] = []
        for s in self._subjects():
            folder = self.require(f"P{s}", f"subject folder P{s} (P0..P8, each with gesture folders)")
            gesture_dirs = sorted(
                (d for d in folder.iterdir() if d.is_dir() and (d / "joint.txt").is_file()),
                key=lambda d: _gesture_key(d.name),
            )
            if not gesture_dirs:
                raise HandposeError(
                    f"msra layout: expected gesture folders ({', '.join(GESTURES)}) with joint.txt", folder
                )
            for gdir in gesture_dirs:
                xyz = self._read_joint_file(gdir / "joint.txt")
                n = len(xyz)
                xyz_parts.append(xyz)
                ids += [f"P{s}/{gdir.name}/{i:06d}_depth.bin" for i in range(n)]
                subjects += [s] * n
                gestures += [gdir.name] * n
        self.frame_ids = ids
        self.joints_xyz = np.concatenate(xyz_parts)
        assert self.camera is not None
        self.joints_uvd = xyz_to_uvd(self.joints_xyz, self.camera)
        self._subject_of = np.asarray(subjects)
        self._gesture_of = gestures

    @staticmethod
    def _read_joint_file(path: Path) -> np.ndarray:
        try:
            with open_regular(path, "joint file") as fh:
                first = fh.readline(256).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HandposeError(f"cannot read joint file: {exc}", path) from None
        try:
            declared = int(first.strip())
        except ValueError:
            raise HandposeError(f"first line must be the frame count, got {first.strip()[:40]!r}", path, 1) from None
        if declared <= 0:
            raise HandposeError(f"frame count must be positive, got {declared}", path, 1)
        _, values = read_label_table(path, NUM_JOINTS * 3, name_column=False, header_lines=1)
        if len(values) != declared:
            raise HandposeError(f"first line declares {declared} frames but {len(values)} label lines follow", path)
        xyz = values.reshape(-1, NUM_JOINTS, 3)
        # MSRA: y up and the camera looking down -z; ours: y down, z forward.
        xyz[..., 1] = -xyz[..., 1]
        xyz[..., 2] = -xyz[..., 2]
        if np.any(xyz[..., 2] <= 0):
            row = int(np.flatnonzero((xyz[..., 2] <= 0).any(axis=1))[0])
            raise HandposeError("a joint lies behind the camera (z must be negative in the file)", path, row + 2)
        return xyz

    def _read_depth(self, index: int) -> np.ndarray:
        return read_msra_depth(self.image_path(index))

    def frame_extras(self, index: int) -> dict[str, Any]:
        s = int(self._subject_of[index])
        extras: dict[str, Any] = {"subject": s, "gesture": self._gesture_of[index]}
        if self.subject_cubes:
            extras["cube"] = SUBJECT_CUBES[s]
        return extras
