"""Depth crops for the models: hand centre, 3D cube crop, normalisation and augmentation.

:class:`DepthCropTransform` turns one :class:`~handpose.datasets.base.Sample` into the per-sample
arrays of :class:`handpose.batch.DepthBatch` (no batch dimension). The preprocessing is DeepPrior++'s
as CrossInfoNet uses it (``util/handdetector.py``, ``util/preprocess.py``):

1. Hand centre (``center=``): a ground-truth joint (``"gt"``), the centre of mass of the depth in a
   cube around an initial guess refined iteratively (``"com"``), the same from the depth alone
   (``"detect"``), or ``sample.center_xyz`` from a centre file (``"given"``).
2. Cube: a fixed edge length, or a training range ``(lo, hi)`` sampled per sample in ``cube_step``
   steps (the reference bakes 250 + 10k mm, k = 0..5, for NYU).
3. Augmentation (``augment=True``): one of in-plane rotation U(-180, 180) degrees, cube scale
   ``|1 + N(0, 0.05)|``, 3D centre shift N(0, 10 mm) per axis, or nothing, chosen uniformly per sample.
   All three are changes of the crop geometry, so joints follow exactly.
4. Warp: :class:`~handpose.geometry.CubeCrop`'s affine map with ``cv2.warpAffine`` and nearest-neighbour
   sampling, so foreground and background depths never mix; pixels outside the image are missing.
5. Encode (:mod:`handpose.codecs.cube`, the only place these encodings live): depth
   ``(d - z_c) / (cube_z / 2)`` in [-1, 1], background, out-of-cube and missing pixels (not finite or
   not positive) +1; joints ``(xyz' - centre) / (cube / 2)`` (``xyz'`` rotated with the image);
   ``joints_crop`` = crop u, v in [-1, 1] and the normalised depth.

Crop pixel convention: the cube's projected box spans the crop exactly, its left edge at ``u = -1``
and right edge at ``u = +1``; crop pixel ``i`` is centred at ``u = (i + 0.5) * 2 / S - 1`` (as in
:mod:`handpose.codecs.heatmap`). :func:`handpose.codecs.cube.decode` inverts ``joints`` and
:func:`handpose.codecs.cube.decode_crop` inverts ``joints_crop``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import cv2
import numpy as np

from handpose.codecs import cube as cube_codec
from handpose.datasets.base import Sample
from handpose.errors import HandposeError
from handpose.geometry import CubeCrop
from handpose.hand_center import find_center

CenterMode = Literal["gt", "com", "detect", "given"]
AUGMENT_MODES: tuple[str, ...] = ("rot", "scale", "shift", "none")

# Cube edge (mm) per dataset and split, as the reference code uses them: a number is fixed, a pair
# is the training range. NYU/MSRA: CrossInfoNet; ICVL: DeepPrior++ importer default; HANDS 2017/2019:
# the HANDS19 toolbox's 300 mm box around the middle MCP. HO-3D has no reference preprocessing; 300 mm
# (hand plus grasped object margin) is handpose's choice.
DEFAULT_CUBES: dict[str, dict[str, float | tuple[float, float]]] = {
    "nyu": {"train": (250.0, 300.0), "test": 250.0},
    "msra": {"train": (150.0, 200.0), "test": 175.0},
    "icvl": {"train": 250.0, "test": 250.0},
    "hands2017": {"train": 300.0, "test": 300.0},
    "hands2019": {"train": 300.0, "test": 300.0},
    "ho3d": {"train": 300.0, "test": 300.0},
}


def default_cube(dataset: str, split: str) -> float | tuple[float, float]:
    """The reference cube for ``dataset``'s ``split`` (any split other than ``"train"`` counts as test)."""
    table = DEFAULT_CUBES.get(dataset)
    if table is None:
        return 250.0
    return table["train" if split == "train" else "test"]


class DepthCropTransform:
    """Sample -> normalised depth crop and targets (one :class:`~handpose.batch.DepthBatch` row).

    Args:
        out_size: Side of the square crop in pixels.
        cube: Cube edge in mm, or ``(lo, hi)`` sampled per sample.
        augment: Apply the reference augmentation.
        center: How to find the cube centre (see the module docstring).
        center_joint: Joint index for ``"gt"`` and as the first guess of ``"com"``; default the
            skeleton's root joint (middle MCP where the skeleton has one, else its kinematic root —
            ICVL's and NYU's palm). A non-finite joint falls back to the mean of the finite joints.
        cube_step: Step of the sampled cube sizes (mm); 0 samples continuously.
        com_iterations: Refinement steps for ``"com"`` and ``"detect"``.
        cube_from_sample: Use ``sample.extras["cube"]`` when a reader provides one (MSRA's
            per-subject cubes, NYU's per-sequence test cubes), else ``cube``.
        rotation_range: Maximum absolute in-plane rotation, degrees.
        scale_sigma: Standard deviation of the cube scale factor.
        shift_sigma: Standard deviation of the centre shift per axis, mm.
        augment_modes: The modes chosen from uniformly.
    """

    def __init__(
        self,
        out_size: int = 96,
        cube: float | tuple[float, float] = 250.0,
        augment: bool = False,
        center: CenterMode = "gt",
        center_joint: int | None = None,
        cube_step: float = 10.0,
        com_iterations: int = 3,
        cube_from_sample: bool = False,
        rotation_range: float = 180.0,
        scale_sigma: float = 0.05,
        shift_sigma: float = 10.0,
        augment_modes: tuple[str, ...] = AUGMENT_MODES,
    ) -> None:
        if int(out_size) < 4:
            raise HandposeError(f"crop size must be at least 4 pixels, got {out_size}")
        if center not in ("gt", "com", "detect", "given"):
            raise HandposeError(f"unknown centre mode {center!r}; use gt, com, detect or given")
        unknown = set(augment_modes) - set(AUGMENT_MODES)
        if unknown or not augment_modes:
            raise HandposeError(f"augmentation modes must be a non-empty subset of {AUGMENT_MODES}")
        self.out_size = int(out_size)
        edges = np.asarray(cube, dtype=float).reshape(-1)
        if edges.size == 1:
            edges = np.repeat(edges, 2)
        if edges.size != 2 or not 0 < edges[0] <= edges[1]:
            raise HandposeError(f"cube must be a positive size or a (lo, hi) range, got {cube}")
        self.cube_range = (float(edges[0]), float(edges[1]))
        self.augment = augment
        self.center = center
        self.center_joint = center_joint
        self.cube_step = float(cube_step)
        self.com_iterations = int(com_iterations)
        self.cube_from_sample = cube_from_sample
        self.rotation_range = float(rotation_range)
        self.scale_sigma = float(scale_sigma)
        self.shift_sigma = float(shift_sigma)
        self.augment_modes = tuple(augment_modes)

    @classmethod
    def for_dataset(cls, dataset: str, split: str, **overrides: Any) -> DepthCropTransform:
        """The reference settings for a dataset split: its cube, augmentation when training."""
        kwargs: dict[str, Any] = {"cube": default_cube(dataset, split), "augment": split == "train"}
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- pieces -----------------------------------------------------------------------------------
    def sample_cube(self, rng: np.random.Generator | None) -> float:
        lo, hi = self.cube_range
        if hi == lo or rng is None:
            return lo
        if self.cube_step > 0:
            steps = int(np.floor((hi - lo) / self.cube_step + 1e-9))
            return lo + self.cube_step * int(rng.integers(0, steps + 1))
        return float(rng.uniform(lo, hi))

    def find_center(self, sample: Sample, cube: float) -> np.ndarray:
        return find_center(
            sample.image,
            sample.camera,
            self.center,
            cube,
            sample.joints_xyz,
            sample.skeleton,
            sample.center_xyz,
            self.center_joint,
            self.com_iterations,
            str(sample.frame_id),
        )

    def choose_crop(self, sample: Sample, rng: np.random.Generator | None) -> CubeCrop:
        """The crop geometry for ``sample``, augmentation included."""
        if self.cube_from_sample and "cube" in sample.extras:
            cube = float(sample.extras["cube"])
        else:
            cube = self.sample_cube(rng)
        center = self.find_center(sample, cube)
        rotation = 0.0
        if self.augment:
            if rng is None:
                raise HandposeError("augmentation needs a random generator")
            mode = self.augment_modes[int(rng.integers(0, len(self.augment_modes)))]
            if mode == "rot":
                rotation = float(rng.uniform(-self.rotation_range, self.rotation_range))
            elif mode == "scale":
                cube *= abs(1.0 + float(rng.normal(0.0, self.scale_sigma)))
            elif mode == "shift":
                shifted = center + rng.normal(0.0, self.shift_sigma, size=3)
                if shifted[2] > 0:
                    center = shifted
        return CubeCrop.around(center, cube, sample.camera, self.out_size, rotation)

    def warp_matrix(self, crop: CubeCrop) -> np.ndarray:
        """2x3 matrix for ``cv2.warpAffine``: the crop's map with the box edges on the crop's pixel edges."""
        m = crop.matrix[:2].copy()
        m[:, 2] -= 0.5  # CubeCrop puts the box on [0, S]; OpenCV's pixel i is centred at i
        return m

    # -- the transform ----------------------------------------------------------------------------
    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        if sample.modality != "depth":
            raise HandposeError(f"{sample.frame_id}: depth crops need a depth sample, got {sample.modality}")
        depth = sample.image
        if depth.ndim != 2:
            raise HandposeError(f"{sample.frame_id}: depth image must be 2D, got shape {depth.shape}")
        crop = self.choose_crop(sample, rng)
        size = self.out_size
        warped = cv2.warpAffine(
            np.ascontiguousarray(depth, dtype=np.float32),
            self.warp_matrix(crop),
            (size, size),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        joints_xyz = np.asarray(sample.joints_xyz, dtype=np.float64)
        cam = crop.camera
        geometry = (crop.center_xyz, crop.cube, crop.rotation_deg, (cam.fx, cam.fy, cam.cx, cam.cy))
        with np.errstate(invalid="ignore", divide="ignore"):  # unlabelled joints stay NaN
            joints, joints_crop = cube_codec.encode_joints(joints_xyz, *geometry)
        visible = np.asarray(sample.visibility, dtype=bool) & np.all(np.isfinite(joints_xyz), axis=-1)
        return {
            "image": cube_codec.encode_depth(warped, crop.center_xyz[2], crop.cube[2] / 2)[None],
            "joints": joints.astype(np.float32),
            "joints_crop": joints_crop.astype(np.float32),
            "visible": visible,
            "center_xyz": np.asarray(crop.center_xyz, dtype=np.float32),
            "cube": np.asarray(crop.cube, dtype=np.float32),
            "rotation_deg": np.asarray(crop.rotation_deg, dtype=np.float32),
            "camera": np.array(geometry[3], dtype=np.float32),
            "joints_xyz": joints_xyz.astype(np.float32),
        }


def collate(rows: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack per-sample dicts along a new leading batch dimension (numpy; torch's default collate also works)."""
    if not rows:
        raise HandposeError("cannot collate an empty batch")
    return {key: np.stack([np.asarray(r[key]) for r in rows]) for key in rows[0]}
