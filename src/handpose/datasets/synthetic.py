"""Synthetic hands as a dataset: a ``handpose-synth`` folder on disk, or frames rendered on the fly.

:class:`SyntheticFolder` reads what ``handpose synth`` writes (see :mod:`handpose.synth.writer`).
:class:`SyntheticStream` renders frame ``i`` from ``(seed, i)`` when asked, with no shared mutable
state, so it is safe in DataLoader worker processes and training needs no disk. Both return the same
:class:`~handpose.datasets.base.Sample` for the same frame (the folder's PNG is lossless).

Splits of a folder: ``all`` and ``test`` are every frame, ``train`` the frames with ``index % 10 != 9``,
``val`` those with ``index % 10 == 9``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handpose.datasets.base import DatasetReader, Modality, Sample, register_dataset
from handpose.datasets.imageio import decode_png, png_info, read_file_bytes
from handpose.errors import HandposeError
from handpose.geometry import Camera, xyz_to_uvd
from handpose.safe_read import check_regular, read_json

SPLITS = ("all", "train", "val", "test")


def split_indices(count: int, split: str) -> np.ndarray:
    """Frame indices of ``split`` in a set of ``count`` frames."""
    index = np.arange(count)
    if split == "train":
        return index[index % 10 != 9]
    if split == "val":
        return index[index % 10 == 9]
    return index


def _camera_name(root: Path) -> str:
    # The preset name lives in synth.json (meta.json keeps the bare intrinsics); absent -> "custom".
    try:
        settings = read_json(root / "synth.json", "json", "synth.json", root)
        return str(settings.get("camera_name", "custom"))
    except (HandposeError, AttributeError):
        return "custom"


def _load_array(path: Path, shape: tuple[int, ...], dtype_kind: str) -> np.ndarray:
    if not path.exists():
        raise HandposeError("missing label file", path)
    check_regular(path, "label file")
    try:
        # Memory-mapped first: the header's shape is checked before a byte of data is read.
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise HandposeError(f"unreadable .npy file: {exc}", path) from None
    if array.shape != shape or array.dtype.kind not in dtype_kind:
        raise HandposeError(f"expected shape {shape} ({dtype_kind}), got {array.shape} {array.dtype}", path)
    array = np.array(array)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise HandposeError("holds NaN or infinite values", path)
    return array


def _sample(image: np.ndarray, labels: dict[str, Any], camera: Camera, modality: Modality, index: int) -> Sample:
    joints = np.asarray(labels["joints_xyz"], dtype=np.float32)
    return Sample(
        image=image,
        joints_xyz=joints,
        joints_uvd=xyz_to_uvd(joints, camera).astype(np.float32),
        visibility=np.asarray(labels["visibility"], dtype=bool),
        camera=camera,
        skeleton="canonical21",
        frame_id=f"{modality}/{index:06d}.png",
        modality=modality,
        center_xyz=None,
        handedness=labels.get("handedness"),
        extras={k: labels[k] for k in ("pose", "shape") if labels.get(k) is not None},
    )


def _depth_or_rgb(image: np.ndarray, modality: str) -> np.ndarray:
    if modality == "depth":
        return image.astype(np.float32)
    return image


@register_dataset
class SyntheticFolder(DatasetReader):
    """A folder written by ``handpose synth``.

    Args:
        root: The folder (with ``meta.json``).
        split: ``all``, ``train``, ``val`` or ``test``.
    """

    camera: Camera  # always read from meta.json
    name: ClassVar[str] = "synthetic"
    modality: ClassVar[Modality] = "depth"
    skeleton: ClassVar[str] = "canonical21"
    splits: ClassVar[tuple[str, ...]] = SPLITS

    def __init__(self, root: str | Path, split: str = "all") -> None:
        super().__init__(root, split)
        from handpose.synth.writer import read_meta

        meta = read_meta(self.root)
        self.meta = meta
        self.modality = meta["modality"]  # type: ignore[misc]
        self.camera = Camera.from_dict({**meta["camera"], "name": _camera_name(self.root)})
        count = int(meta["count"])
        self.count = count
        self._joints = _load_array(self.root / "joints.npy", (count, 21, 3), "f").astype(np.float32)
        self._visibility = _load_array(self.root / "visibility.npy", (count, 21), "b")
        self._handedness: np.ndarray | None = None
        if (self.root / "handedness.npy").is_file():
            self._handedness = _load_array(self.root / "handedness.npy", (count,), "U")
        self._pose = self._optional(self.root / "pose.npy", (count, 22))
        self._shape = self._optional_shape(self.root / "shape.npy", count)
        self._indices = split_indices(count, split)

    @staticmethod
    def _optional(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
        return _load_array(path, shape, "f").astype(np.float32) if path.is_file() else None

    @staticmethod
    def _optional_shape(path: Path, count: int) -> np.ndarray | None:
        from handpose.synth.hand import SHAPE_SIZE

        if not path.is_file():
            return None
        # Folders written before per-bone shapes hold 8 shape parameters per frame.
        width = SHAPE_SIZE
        try:
            header = np.load(path, mmap_mode="r", allow_pickle=False)
            if header.ndim == 2 and header.shape[1] == 8:
                width = 8
        except (OSError, ValueError):
            pass
        return _load_array(path, (count, width), "f").astype(np.float32)

    def __len__(self) -> int:
        return len(self._indices)

    def image_path(self, frame: int) -> Path:
        return self.root / self.modality / f"{frame:06d}.png"

    def __getitem__(self, index: int) -> Sample:
        import cv2

        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} frames")
        frame = int(self._indices[index])
        path = self.image_path(frame)
        data = read_file_bytes(path)
        png_info(data, path)  # refuses a header asking for more pixels than a frame has before decoding
        image = decode_png(data, path)
        if self.modality == "depth":
            if image.ndim != 2 or image.dtype != np.uint16:
                raise HandposeError(
                    f"expected a 16-bit single-channel depth PNG, got {image.dtype} {image.shape}", path
                )
        else:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise HandposeError(f"expected an 8-bit RGB PNG, got {image.dtype} {image.shape}", path)
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if image.shape[:2] != (self.camera.height, self.camera.width):
            raise HandposeError(
                f"image is {image.shape[1]}x{image.shape[0]}, meta.json says {self.camera.width}x{self.camera.height}",
                path,
            )
        labels = {
            "joints_xyz": self._joints[frame],
            "visibility": self._visibility[frame],
            "handedness": None if self._handedness is None else str(self._handedness[frame]),
            "pose": None if self._pose is None else self._pose[frame],
            "shape": None if self._shape is None else self._shape[frame],
        }
        return _sample(_depth_or_rgb(image, self.modality), labels, self.camera, self.modality, frame)

    def labels_xyz(self) -> np.ndarray:
        return self._joints[self._indices]


class SyntheticStream:
    """Frames rendered on demand: item ``i`` is frame ``i`` of the synthetic run ``seed``.

    Args:
        count: Number of frames (the dataset length).
        seed: Run seed.
        modality: ``"depth"`` or ``"rgb"``.
        camera: Preset name, ``"fx,fy,cx,cy[,w,h]"`` or a :class:`Camera`.
        occluders: Add occluders to most frames.
        background: ``"mixed"``, ``"empty"`` or ``"cluttered"``.
        noise: Depth sensor effects.
        depth_range: Range of the hand centre's depth, mm.
        hands: ``"both"`` (left or right, even odds), ``"right"`` or ``"left"``.
        hand_model: ``"mesh"`` (skinned hand mesh, default) or ``"capsule"``.
    """

    skeleton: ClassVar[str] = "canonical21"

    def __init__(
        self,
        count: int,
        seed: int = 0,
        modality: Modality = "depth",
        camera: str | Camera = "nyu",
        occluders: bool = False,
        background: str = "mixed",
        noise: bool = True,
        depth_range: tuple[float, float] = (200.0, 900.0),
        hands: str = "both",
        hand_model: str = "mesh",
    ) -> None:
        from handpose.synth.frame import BACKGROUNDS, MODALITIES, check_hand_model, check_hands, resolve_camera

        if int(count) <= 0:
            raise HandposeError(f"synthetic stream needs a positive count, got {count}")
        if modality not in MODALITIES:
            raise HandposeError(f"unknown modality {modality!r}; expected depth or rgb")
        if background not in BACKGROUNDS:
            raise HandposeError(f"unknown background {background!r}; expected one of {', '.join(BACKGROUNDS)}")
        check_hands(hands)
        check_hand_model(hand_model)
        self.hands = hands
        self.hand_model = hand_model
        self.count = int(count)
        self.seed = int(seed)
        self.modality: Modality = modality
        self.camera = resolve_camera(camera, modality)
        self.occluders = bool(occluders)
        self.background = background
        self.noise = bool(noise)
        self.depth_range = (float(depth_range[0]), float(depth_range[1]))

    def __len__(self) -> int:
        return self.count

    def render(self, index: int) -> tuple[np.ndarray, dict[str, Any]]:
        """The raw image and the full labels dict of frame ``index``."""
        from handpose.synth.frame import render_frame

        return render_frame(
            self.seed,
            index,
            self.modality,
            self.camera,
            occluders=self.occluders,
            background=self.background,
            noise=self.noise,
            depth_range=self.depth_range,
            hands=self.hands,
            hand_model=self.hand_model,
        )

    def __getitem__(self, index: int) -> Sample:
        if not -self.count <= index < self.count:
            raise IndexError(f"index {index} out of range for {self.count} frames")
        index = int(index) % self.count
        image, labels = self.render(index)
        return _sample(_depth_or_rgb(image, self.modality), labels, self.camera, self.modality, index)

    def labels_xyz(self) -> np.ndarray:
        """All joints (renders every frame; prefer a folder for large sets)."""
        return np.stack([self.render(i)[1]["joints_xyz"] for i in range(self.count)])
