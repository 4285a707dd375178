"""Dexter+Object (Sridhar et al. ECCV'16) reader: five fingertips, evaluation only.

Layout::

    <root>/data/<seq>/color/*.png                 640x480, sorted by name = frame order
    <root>/data/<seq>/annotations/<seq>3D.txt     one line per frame: 5 x "x, y, z" separated by ";"

Sequences: Grasp1, Grasp2, Occlusion, Rigid, Pinch, Rotate. Fingertips thumb, index, middle, ring,
little (skeleton ``dexter5``), mm, in the depth sensor's frame with x and y pointing left and up; a
coordinate of 32001 marks an unannotated tip (NaN, not visible). Moved to the colour camera as
Minimal-Hand-pytorch ``datasets/dexter_object.py`` does: negate x and y, then apply the published
colour extrinsics ``[R | t]`` (rows below) and the ``dexter_color`` intrinsics. Left hands.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose.datasets.base import DatasetReader, Sample, register_dataset
from handpose.datasets.rgbio import check_hand_size, read_rgb
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS, Camera, xyz_to_uvd
from handpose.safe_read import read_text

SEQUENCES = ("Grasp1", "Grasp2", "Occlusion", "Rigid", "Pinch", "Rotate")
COLOR_EXTRINSICS = np.array(
    [
        [0.9999, 0.0034, 0.0161, 19.0473],
        [-0.0033, 1.0000, -0.0079, -1.8514],
        [-0.0162, 0.0079, 0.9998, -4.7501],
    ]
)
MISSING_VALUE = 32001.0


def depth_to_color(xyz_depth: np.ndarray) -> np.ndarray:
    """Raw D+O annotation mm (x left, y up) -> colour camera mm (x right, y down)."""
    p = np.asarray(xyz_depth, dtype=np.float64) * np.array([-1.0, -1.0, 1.0])
    return p @ COLOR_EXTRINSICS[:, :3].T + COLOR_EXTRINSICS[:, 3]


def read_annotations_3d(path: Path) -> np.ndarray:
    """``(N, 5, 3)`` raw fingertips of a ``<seq>3D.txt`` file, NaN where unannotated."""
    if not path.is_file():
        raise HandposeError("missing 3D annotation file", path)
    lines = read_text(path, "label", "3D annotation file", encoding="ascii").splitlines()
    frames = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        tips = [t for t in line.split(";") if t.strip()]
        try:
            values = [float(v) for t in tips for v in t.split(",")]
        except ValueError:
            raise HandposeError("non-numeric fingertip coordinate", path, lineno) from None
        if len(values) != 15:
            raise HandposeError(f"expected 5 fingertips x 3 coordinates, found {len(values)} values", path, lineno)
        frames.append(values)
    if not frames:
        raise HandposeError("no annotated frames", path)
    xyz = np.array(frames, dtype=np.float64).reshape(-1, 5, 3)
    if not np.isfinite(xyz).all() or np.abs(xyz).max() > 1e6:
        row = int(np.flatnonzero(~(np.isfinite(xyz) & (np.abs(xyz) <= 1e6)).reshape(len(xyz), -1).all(-1))[0])
        raise HandposeError(
            f"frame {row} (0-based): non-finite or absurd coordinate ({MISSING_VALUE:g} marks a missing fingertip)",
            path,
        )
    missing = (np.abs(xyz - MISSING_VALUE) < 0.5).any(-1)
    xyz[missing] = np.nan
    return xyz


@register_dataset
class DexterObjectReader(DatasetReader):
    """Dexter+Object colour frames with fingertips in the colour camera, mm.

    Args:
        root: The Dexter+Object folder (holding ``data/``).
        split: ``"test"`` only.
        sequences: Sequences to read; default: those of the six present under ``data/``.
    """

    name: ClassVar[str] = "dexter"
    modality = "rgb"
    skeleton: ClassVar[str] = "dexter5"
    splits: ClassVar[tuple[str, ...]] = ("test",)
    units: ClassVar[str] = "mm"
    camera = CAMERAS["dexter_color"]

    def __init__(self, root: str | Path, split: str = "test", sequences: tuple[str, ...] | None = None) -> None:
        super().__init__(root, split)
        data = self.root / "data" if (self.root / "data").is_dir() else self.root
        if sequences is None:
            sequences = tuple(s for s in SEQUENCES if (data / s).is_dir())
            if not sequences:
                raise HandposeError(f"dexter: none of the sequence folders {', '.join(SEQUENCES)} found", data)
        unknown = [s for s in sequences if s not in SEQUENCES]
        if unknown:
            raise HandposeError(f"dexter: unknown sequences {unknown}; expected some of {', '.join(SEQUENCES)}")
        self.data_dir = data
        self.images: list[Path] = []
        joints = []
        for seq in sequences:
            seq_dir = data / seq
            if not seq_dir.is_dir():
                raise HandposeError(f"dexter: sequence folder {seq}/ missing", data)
            ann_path = seq_dir / "annotations" / f"{seq}3D.txt"
            raw = read_annotations_3d(ann_path)
            images = sorted(p for p in (seq_dir / "color").glob("*") if p.suffix.lower() in (".png", ".jpg"))
            if len(images) != raw.shape[0]:
                raise HandposeError(
                    f"{raw.shape[0]} annotated frames but {len(images)} colour images in {seq}/color", ann_path
                )
            xyz = depth_to_color(raw)
            check_hand_size(xyz, ann_path, "fingertips")
            joints.append(xyz)
            self.images += images
        self.xyz = np.concatenate(joints)

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, index: int) -> Path:
        """Colour image of frame ``index``."""
        return self.images[index]

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        image = read_rgb(self.images[index])
        cam = self.camera
        camera = Camera(cam.fx, cam.fy, cam.cx, cam.cy, image.shape[1], image.shape[0], cam.name)
        xyz = self.xyz[index].copy()
        return Sample(
            image=image,
            joints_xyz=xyz,
            joints_uvd=xyz_to_uvd(xyz, camera),
            visibility=np.isfinite(xyz).all(-1),
            camera=camera,
            skeleton=self.skeleton,
            frame_id=str(self.images[index].relative_to(self.data_dir)),
            modality="rgb",
            handedness="left",
        )

    def labels_xyz(self) -> np.ndarray:
        return self.xyz.copy()
