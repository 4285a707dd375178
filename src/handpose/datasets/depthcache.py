"""A hand-region cache of decoded depth frames, so training does not decode PNGs for every sample.

Decoding a 640x480 PNG costs far more than cropping it (see the "Depth data pipeline" benchmark).
Like the reference pipelines (DeepPrior++ and CrossInfoNet cache their crops), :func:`build_depth_cache`
decodes each frame once and keeps a square patch around the hand, large enough for every crop the
training augmentation can ask for: ``margin`` times the cube, at about the output resolution. The
patch is an exact affine (scale + shift) of the image, so it comes with its own exact intrinsics,
and every reader-independent step downstream (centre, crop, augmentation, decoding predictions back
to the image) works on it unchanged. Joints are untouched (camera frame, mm).

On disk, under ``OUT/<split>/``: ``frames.npy`` (``N x P x P`` uint16 depth in whole mm, memory-mapped
when read), ``labels.npz`` (joints, visibility, patch intrinsics, centres, frame ids; no pickles) and
``info.json``. Read it back with ``open_dataset("depth_cache", OUT, split)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from handpose.datasets.base import DatasetReader, Sample, register_dataset
from handpose.errors import HandposeError
from handpose.geometry import Camera
from handpose.hand_center import CENTER_MODES, find_center
from handpose.io import atomic_path, write_json_atomic
from handpose.safe_read import check_npz, read_json

# Labels of a cached split (joints, centres, cubes per frame): a million frames is ~400 MB.
MAX_LABELS_BYTES = 1 << 30
CACHE_VERSION = 1
CACHE_SPLITS: tuple[str, ...] = ("train", "test", "test_seq_1", "test_seq_2", "evaluation", "all")


def patch_geometry(center_xyz: np.ndarray, camera: Camera, cube: float, margin: float, size: int) -> np.ndarray:
    """2x3 affine (image pixels -> patch pixels) covering ``margin * cube`` mm around the centre in ``size`` px."""
    cx, cy, cz = (float(v) for v in center_xyz)
    u = cx * camera.fx / cz + camera.cx
    v = cy * camera.fy / cz + camera.cy
    half = margin * cube / 2 * max(abs(camera.fx), abs(camera.fy)) / cz
    s = size / (2 * half)
    off = (size - 1) / 2
    return np.array([[s, 0.0, off - s * u], [0.0, s, off - s * v]])


def build_depth_cache(
    reader: DatasetReader,
    out: str | Path,
    *,
    cube: float = 300.0,
    margin: float = 1.75,
    patch_size: int = 208,
    center: str = "gt",
    progress: bool = True,
) -> Path:
    """Decode every frame of ``reader`` once and store its hand region.

    Args:
        reader: A depth reader.
        out: Cache root; the split goes to ``out/<split>/``.
        cube: Largest cube (mm) the crops will use.
        margin: Patch side as a multiple of ``cube`` (1.75 covers a 45-degree rotation of a cube
            scaled by 1.15 plus a 10 mm centre shift).
        patch_size: Patch side in pixels.
        center: ``"gt"`` (root joint, else mean of the finite joints), ``"com"`` (refined centre of
            mass) or ``"given"`` (the reader's centre file).
        progress: Show a progress bar.

    Returns:
        The split folder written.
    """
    if reader.modality != "depth":
        raise HandposeError(f"{reader.name}: only depth datasets can be cached, this one is {reader.modality}")
    if center not in CENTER_MODES:
        raise HandposeError(f"unknown centre mode {center!r}; use {', '.join(CENTER_MODES)}")
    if patch_size < 16 or margin < 1 or cube <= 0:
        raise HandposeError("cache needs patch_size >= 16, margin >= 1 and a positive cube")
    n = len(reader)
    if n == 0:
        raise HandposeError(f"{reader.name} {reader.split}: no frames to cache")
    folder = Path(out) / reader.split
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HandposeError(f"cannot write the cache here: {exc.strerror}", folder) from None
    labels: dict[str, list[Any]] = {k: [] for k in ("joints_xyz", "joints_uvd", "visibility", "cameras", "centers")}
    frame_ids: list[str] = []
    indices: Any = range(n)
    if progress:
        from rich.progress import track

        indices = track(indices, description=f"caching {reader.name} {reader.split}", transient=True)
    with atomic_path(folder / "frames.npy") as tmp:
        frames = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint16, shape=(n, patch_size, patch_size))
        for i in indices:
            sample = reader[i]
            c = find_center(
                sample.image,
                sample.camera,
                center,
                cube,
                sample.joints_xyz,
                sample.skeleton,
                sample.center_xyz,
                frame_id=str(sample.frame_id),
            )
            m = patch_geometry(c, sample.camera, cube, margin, patch_size)
            patch = cv2.warpAffine(
                np.ascontiguousarray(sample.image, dtype=np.float32),
                m,
                (patch_size, patch_size),
                flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0.0,
            )
            frames[i] = np.clip(np.rint(patch), 0, 65535).astype(np.uint16)
            cam = sample.camera
            labels["cameras"].append(
                [m[0, 0] * cam.fx, m[1, 1] * cam.fy, m[0, 0] * cam.cx + m[0, 2], m[1, 1] * cam.cy + m[1, 2]]
            )
            labels["joints_xyz"].append(sample.joints_xyz)
            labels["joints_uvd"].append(sample.joints_uvd)
            labels["visibility"].append(sample.visibility)
            labels["centers"].append(c)
            frame_ids.append(sample.frame_id)
        frames.flush()
        del frames
    with atomic_path(folder / "labels.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            allow_pickle=False,
            **{k: np.asarray(v, dtype=bool if k == "visibility" else np.float64) for k, v in labels.items()},
            frame_ids=np.asarray(frame_ids, dtype=str),
        )
    write_json_atomic(
        folder / "info.json",
        {
            "version": CACHE_VERSION,
            "dataset": reader.name,
            "split": reader.split,
            "skeleton": str(reader.skeleton),
            "frames": n,
            "patch_size": patch_size,
            "cube": cube,
            "margin": margin,
            "center": center,
        },
    )
    return folder


@register_dataset
class DepthCacheReader(DatasetReader):
    """Reads a cache written by :func:`build_depth_cache` (``root`` = the cache root)."""

    name = "depth_cache"
    modality = "depth"
    skeleton = "canonical21"
    splits: ClassVar[tuple[str, ...]] = CACHE_SPLITS

    def __init__(self, root: str | Path, split: str = "train") -> None:
        super().__init__(root, split)
        folder = self.root / split
        info_path = folder / "info.json"
        if not info_path.is_file():
            raise HandposeError(f"depth_cache layout: expected {split}/info.json, frames.npy, labels.npz", self.root)
        info = read_json(info_path, "json", "cache description")
        try:
            if info.get("version") != CACHE_VERSION:
                raise HandposeError(
                    f"cache version {info.get('version')} is not {CACHE_VERSION}; rebuild it", info_path
                )
            self.info = info
            self.skeleton = str(info["skeleton"])  # type: ignore[misc]
            self.source = str(info["dataset"])
        except (ValueError, KeyError, AttributeError) as exc:
            raise HandposeError(f"corrupt cache description: {exc}", info_path) from None
        try:
            self.frames = np.load(folder / "frames.npy", mmap_mode="r", allow_pickle=False)
            check_npz(folder / "labels.npz", MAX_LABELS_BYTES, "cache (labels.npz)")
            with np.load(folder / "labels.npz", allow_pickle=False) as z:
                self._labels = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise HandposeError(f"unreadable cache: {exc}", folder) from None
        n = len(self.frames)
        expected = {"joints_xyz": 3, "joints_uvd": 3, "visibility": 2, "cameras": 2, "centers": 2, "frame_ids": 1}
        for key, ndim in expected.items():
            arr = self._labels.get(key)
            if arr is None or arr.ndim != ndim or len(arr) != n:
                raise HandposeError(f"labels.npz: {key} missing or not {n} rows", folder)
        if self.frames.dtype != np.uint16 or self.frames.ndim != 3:
            raise HandposeError(
                f"frames.npy must be N x P x P uint16, got {self.frames.dtype} {self.frames.shape}", folder
            )

    def __len__(self) -> int:
        return len(self.frames)

    def labels_xyz(self) -> np.ndarray:
        return self._labels["joints_xyz"]

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        index %= n
        fx, fy, cx, cy = (float(v) for v in self._labels["cameras"][index])
        size = self.frames.shape[1]
        return Sample(
            image=self.frames[index].astype(np.float32),
            joints_xyz=self._labels["joints_xyz"][index].copy(),
            joints_uvd=self._labels["joints_uvd"][index].copy(),
            visibility=self._labels["visibility"][index].copy(),
            camera=Camera(fx, fy, cx, cy, size, size, f"{self.source}_patch"),
            skeleton=self.skeleton,
            frame_id=str(self._labels["frame_ids"][index]),
            modality="depth",
            center_xyz=self._labels["centers"][index].copy(),
            extras={"source": self.source},
        )
