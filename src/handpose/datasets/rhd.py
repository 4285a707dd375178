"""Rendered Hand Pose (RHD, Zimmermann & Brox ICCV'17) reader.

Layout (``RHD_published_v2``)::

    <root>/training/anno_training.pickle     evaluation/anno_evaluation.pickle
    <root>/training/color/%05d.png           320x320 RGB
    <root>/training/mask/%05d.png            part labels: 0 background, 1 person, 2-17 left hand, 18-33 right hand

The pickle maps an integer sample id to ``{"xyz": (42, 3) metres, "uv_vis": (42, 3) u, v, visible,
"K": (3, 3)}``; rows 0-20 are the left hand, 21-41 the right, each wrist then thumb..little tip->MCP
(skeleton ``rhd21``). It is read with :func:`~handpose.datasets.unpickle.safe_load`, which rebuilds only
containers and numpy arrays. Splits: ``train`` = training (41,258), ``test`` = evaluation (2,728).

One hand per sample. ``hand="mask"`` (default) picks, as the Learnable Groups loader does, the hand
with more mask pixels (ties go to the hand with more visible keypoints, then left); ``"visible"``
picks by visible keypoints without reading the mask; ``"left"``/``"right"`` force a side.
Joints are converted to mm; the sample keeps RHD's native order (``rhd21``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose.datasets.base import DatasetReader, Sample, register_dataset
from handpose.datasets.rgbio import as_array, check_hand_size, read_label_image, read_rgb
from handpose.datasets.unpickle import safe_load
from handpose.errors import HandposeError
from handpose.geometry import Camera, xyz_to_uvd

_FOLDERS = {"train": "training", "test": "evaluation"}
_HANDS = ("mask", "visible", "left", "right")
LEFT_LABELS = (2, 17)
RIGHT_MIN_LABEL = 18


def hand_from_mask(mask: np.ndarray) -> tuple[int, int]:
    """Left and right hand pixel counts of an RHD part-label mask."""
    left = int(np.count_nonzero((mask >= LEFT_LABELS[0]) & (mask <= LEFT_LABELS[1])))
    right = int(np.count_nonzero(mask >= RIGHT_MIN_LABEL))
    return left, right


@register_dataset
class RHDReader(DatasetReader):
    """RHD colour frames, one hand each, joints in camera mm (native ``rhd21`` order).

    Args:
        root: The ``RHD_published_v2`` folder (holding ``training/`` and ``evaluation/``).
        split: ``"train"`` or ``"test"``.
        hand: How the hand is chosen: ``"mask"``, ``"visible"``, ``"left"`` or ``"right"``.
    """

    name: ClassVar[str] = "rhd"
    modality = "rgb"
    skeleton: ClassVar[str] = "rhd21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    units: ClassVar[str] = "m"
    camera = None  # per-frame K from the annotation pickle

    def __init__(self, root: str | Path, split: str = "train", hand: str = "mask") -> None:
        super().__init__(root, split)
        if hand not in _HANDS:
            raise HandposeError(f"rhd: hand must be one of {', '.join(_HANDS)}, got {hand!r}")
        self.hand = hand
        folder = _FOLDERS[split]
        self.folder = self.root / folder
        if not self.folder.is_dir():
            raise HandposeError(f"rhd: no {folder}/ folder (expected the RHD_published_v2 layout)", self.root)
        self.anno_path = self.folder / f"anno_{folder}.pickle"
        self.ids, self.xyz, self.uv_vis, self.K = self._read_annotations(self.anno_path)
        self._side_cache: dict[int, int] = {}

    @staticmethod
    def _read_annotations(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        data = safe_load(path)
        if not isinstance(data, dict) or not data:
            raise HandposeError("expected a non-empty dict of sample id -> annotation", path)
        ids, xyz, uv_vis, K = [], [], [], []
        for key in sorted(data, key=lambda k: (not isinstance(k, int), k if isinstance(k, int) else 0)):
            if not isinstance(key, int) or key < 0:
                raise HandposeError(f"sample id {key!r} is not a non-negative integer", path)
            entry = data[key]
            if not isinstance(entry, dict):
                raise HandposeError(f"sample {key}: annotation is {type(entry).__name__}, expected dict", path)
            for field in ("xyz", "uv_vis", "K"):
                if field not in entry:
                    raise HandposeError(f"sample {key}: missing key {field!r}", path)
            ids.append(key)
            xyz.append(as_array(entry["xyz"], (42, 3), f"sample {key} 'xyz'", path))
            uv_vis.append(as_array(entry["uv_vis"], (42, 3), f"sample {key} 'uv_vis'", path))
            K.append(as_array(entry["K"], (3, 3), f"sample {key} 'K'", path))
        xyz_mm = np.stack(xyz) * 1000.0
        if not np.all(np.isfinite(xyz_mm)):
            raise HandposeError("non-finite joint coordinates", path)
        # Both hands are labelled in every frame; each must be hand-sized once in mm.
        check_hand_size(xyz_mm.reshape(-1, 21, 3), path, "xyz (after metres -> mm)")
        k = np.stack(K)
        if np.any(k[:, 0, 0] <= 0) or np.any(k[:, 1, 1] <= 0):
            raise HandposeError("intrinsics with non-positive focal length", path)
        return np.asarray(ids), xyz_mm, np.stack(uv_vis), k

    def __len__(self) -> int:
        return len(self.ids)

    def _choose_side(self, index: int, mask: np.ndarray | None) -> int:
        """0 for the left hand (rows 0-20), 1 for the right (rows 21-41)."""
        if self.hand in ("left", "right"):
            return int(self.hand == "right")
        if index in self._side_cache:
            return self._side_cache[index]
        vis = self.uv_vis[index, :, 2] > 0.5
        n_left, n_right = int(vis[:21].sum()), int(vis[21:].sum())
        if self.hand == "mask":
            if mask is None:
                mask = read_label_image(self._mask_path(index))
            px_left, px_right = hand_from_mask(mask)
            if px_left != px_right:
                n_left, n_right = px_left, px_right
        side = int(n_right > n_left)
        self._side_cache[index] = side
        return side

    def image_path(self, index: int) -> Path:
        """Colour image of frame ``index``."""
        return self.folder / "color" / f"{int(self.ids[index]):05d}.png"

    def _mask_path(self, index: int) -> Path:
        return self.folder / "mask" / f"{int(self.ids[index]):05d}.png"

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        sid = int(self.ids[index])
        image = read_rgb(self.image_path(index))
        mask_path = self._mask_path(index)
        mask = read_label_image(mask_path) if mask_path.is_file() or self.hand == "mask" else None
        if mask is not None and mask.shape != image.shape[:2]:
            raise HandposeError(
                f"mask is {mask.shape[1]}x{mask.shape[0]}, colour image {image.shape[1]}x{image.shape[0]}", mask_path
            )
        side = self._choose_side(index, mask)
        rows = slice(21 * side, 21 * side + 21)
        xyz = self.xyz[index, rows].copy()
        h, w = image.shape[:2]
        camera = Camera.from_K(self.K[index], w, h, "rhd")
        extras: dict[str, object] = {"uv_file": self.uv_vis[index, rows, :2].copy(), "sample_id": sid}
        if mask is not None:
            lo, hi = LEFT_LABELS if side == 0 else (RIGHT_MIN_LABEL, 255)
            extras["mask"] = (mask >= lo) & (mask <= hi)
        return Sample(
            image=image,
            joints_xyz=xyz,
            joints_uvd=xyz_to_uvd(xyz, camera),
            visibility=self.uv_vis[index, rows, 2] > 0.5,
            camera=camera,
            skeleton=self.skeleton,
            frame_id=f"{self.folder.name}/color/{sid:05d}.png",
            modality="rgb",
            handedness="right" if side else "left",
            extras=extras,
        )

    def labels_xyz(self) -> np.ndarray:
        """Joints of the chosen hand per frame (reads every mask when ``hand="mask"``)."""
        indices: Iterable[int] = range(len(self))
        if self.hand == "mask" and len(self) > 2000:
            from rich.progress import track

            indices = track(indices, description="rhd: choosing hands from masks", transient=True)
        sides = np.array([self._choose_side(i, None) for i in indices], dtype=np.int64)
        rows = 21 * sides[:, None] + np.arange(21)[None]
        return np.take_along_axis(self.xyz, rows[..., None], axis=1)
