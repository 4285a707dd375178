"""The sample schema every reader yields, the reader base class and the dataset registry."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from handpose.errors import HandposeError
from handpose.geometry import Camera, xyz_to_uvd

Modality = Literal["depth", "rgb"]


@dataclass
class Sample:
    """One labelled frame, in handpose's conventions (camera frame x right, y down, z forward, mm).

    Attributes:
        image: Depth as ``(H, W)`` float32 millimetres (0 = missing), or RGB as ``(H, W, 3)`` uint8.
        joints_xyz: ``(J, 3)`` camera-space mm in the skeleton's native order; NaN where unknown.
        joints_uvd: ``(J, 3)`` pixel u, v and depth mm.
        visibility: ``(J,)`` bool; all True when the dataset does not say.
        camera: Intrinsics of ``image``.
        skeleton: Registry name of the joint order.
        frame_id: Stable identifier (usually the image path relative to the dataset root).
        modality: ``"depth"`` or ``"rgb"``.
        center_xyz: Hand centre for cropping, mm, if the dataset or a centre file provides one.
        handedness: ``"right"``, ``"left"`` or ``None`` if unknown.
        extras: Dataset-specific fields (mask, MANO parameters, bounding box, ...).
    """

    image: np.ndarray
    joints_xyz: np.ndarray
    joints_uvd: np.ndarray
    visibility: np.ndarray
    camera: Camera
    skeleton: str
    frame_id: str
    modality: Modality
    center_xyz: np.ndarray | None = None
    handedness: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def labelled_sample(
    image: np.ndarray,
    joints_xyz: np.ndarray,
    camera: Camera,
    skeleton: str,
    frame_id: str,
    modality: Modality,
    *,
    visibility: np.ndarray | None = None,
    handedness: str | None = None,
    extras: dict[str, Any] | None = None,
) -> Sample:
    """A :class:`Sample` whose uvd are the projection of ``joints_xyz`` and whose camera carries the image size.

    Joints are all visible unless ``visibility`` says otherwise.
    """
    height, width = image.shape[:2]
    camera = replace(camera, width=width, height=height)
    if visibility is None:
        visibility = np.ones(len(joints_xyz), dtype=bool)
    return Sample(
        image=image,
        joints_xyz=joints_xyz,
        joints_uvd=xyz_to_uvd(joints_xyz, camera),
        visibility=visibility,
        camera=camera,
        skeleton=skeleton,
        frame_id=frame_id,
        modality=modality,
        handedness=handedness,
        extras=extras if extras is not None else {},
    )


class DatasetReader:
    """Base class of dataset readers: an indexable sequence of :class:`Sample`.

    Subclasses declare ``name``, ``modality``, ``skeleton``, ``splits`` and a default ``camera``, read
    their label files in ``__init__`` (fast, no images), and load one image in ``__getitem__``.
    Problems with the data on disk raise :class:`~handpose.errors.HandposeError` naming the file.

    Args:
        root: Dataset root folder, laid out as the dataset publishes it.
        split: One of ``splits``.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[Modality] = "depth"
    skeleton: ClassVar[str] = "canonical21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    camera: Camera | None = None

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        if split not in self.splits:
            raise HandposeError(f"{self.name}: unknown split {split!r}; expected one of {', '.join(self.splits)}")
        if not self.root.is_dir():
            raise HandposeError(f"dataset root is not a folder (expected the {self.name} layout)", self.root)
        self.split = split

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def labels_xyz(self) -> np.ndarray:
        """All ``(N, J, 3)`` joint labels in camera mm, without reading images."""
        raise NotImplementedError


_DATASETS: dict[str, type[DatasetReader]] = {}


def register_dataset(cls: type[DatasetReader]) -> type[DatasetReader]:
    """Class decorator: make a reader available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _DATASETS:
        raise ValueError(f"dataset {cls.name!r} is already registered")
    _DATASETS[cls.name] = cls
    return cls


def _load_readers() -> None:
    # Importing the package registers every reader it ships.
    import handpose.datasets  # noqa: F401


def dataset_names(pattern: str = "*") -> list[str]:
    _load_readers()
    return sorted(n for n in _DATASETS if fnmatch.fnmatch(n, pattern))


def get_dataset_class(name: str) -> type[DatasetReader]:
    _load_readers()
    try:
        return _DATASETS[name]
    except KeyError:
        raise HandposeError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS))}") from None


def open_dataset(name: str, root: str | Path, split: str = "train", **kwargs: Any) -> DatasetReader:
    """Build the reader registered as ``name`` over ``root`` (files under it must not lead out of it)."""
    from handpose.safe_read import dataset_root

    with dataset_root(root):
        return get_dataset_class(name)(root, split=split, **kwargs)


ReaderFactory = Callable[..., DatasetReader]
