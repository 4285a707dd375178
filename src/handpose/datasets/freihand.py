"""FreiHAND v2 (Zimmermann et al. ICCV'19) reader.

Layout (``FreiHAND_pub_v2`` plus the released evaluation annotations)::

    <root>/training_xyz.json      N x 21 x 3, metres, camera frame (N = 32,560)
    <root>/training_K.json        N x 3 x 3
    <root>/training_scale.json    N, metres: |xyz[9] - xyz[10]| (middle MCP-PIP)
    <root>/training_mano.json     N x 1 x 61 (optional: 48 pose, 10 shape, 3 translation)
    <root>/training/rgb/%08d.jpg  224x224, 4 N images: id = idx + N * v, v over (gs, hom, sample, auto)
    <root>/training/mask/%08d.jpg N masks (one per idx)
    <root>/evaluation_xyz.json, evaluation_K.json, evaluation/rgb/%08d.jpg   (3,960 samples, gs only)

Splits: ``train`` (the versions chosen by ``versions``, all four by default), ``test`` (evaluation).
FreiHAND shows right hands; joints are already in the canonical order (skeleton ``freihand21``).
Joints are converted to mm. The training scale file is checked against the joints, which catches
label files in the wrong units or order.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose import skeleton as skeleton_registry
from handpose.datasets.base import DatasetReader, Sample, labelled_sample, register_dataset
from handpose.datasets.rgbio import as_array, check_hand_size, read_json, read_label_image, read_rgb
from handpose.errors import HandposeError
from handpose.geometry import Camera

VERSIONS = ("gs", "hom", "sample", "auto")


@register_dataset
class FreiHANDReader(DatasetReader):
    """FreiHAND frames, joints in camera mm (canonical order).

    Args:
        root: The ``FreiHAND_pub_v2`` folder.
        split: ``"train"`` or ``"test"`` (the evaluation set, with its released annotations).
        versions: Training image versions to include, any of ``gs``, ``hom``, ``sample``, ``auto``.
    """

    name: ClassVar[str] = "freihand"
    modality = "rgb"
    skeleton: ClassVar[str] = "freihand21"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    units: ClassVar[str] = "m"
    camera = None  # per-sample K

    def __init__(self, root: str | Path, split: str = "train", versions: tuple[str, ...] | str = VERSIONS) -> None:
        super().__init__(root, split)
        if isinstance(versions, str):
            versions = tuple(v.strip() for v in versions.split(",") if v.strip())
        unknown = [v for v in versions if v not in VERSIONS]
        if unknown or not versions:
            raise HandposeError(f"freihand: versions must be a subset of {', '.join(VERSIONS)}, got {versions!r}")
        prefix = "training" if split == "train" else "evaluation"
        self.versions = tuple(versions) if split == "train" else ("gs",)
        self.image_dir = self.root / prefix / "rgb"
        self.mask_dir = self.root / prefix / "mask"
        xyz_path = self.root / f"{prefix}_xyz.json"
        if split == "test" and not xyz_path.is_file():
            raise HandposeError(
                "freihand: evaluation annotations missing (download FreiHAND_pub_v2_eval: evaluation_xyz.json)",
                xyz_path,
            )
        xyz = as_array(read_json(xyz_path), (None, 21, 3), "xyz", xyz_path) * 1000.0
        k_path = self.root / f"{prefix}_K.json"
        self.K = as_array(read_json(k_path), (xyz.shape[0], 3, 3), "K", k_path)
        if not np.all(np.isfinite(xyz)):
            raise HandposeError("non-finite joint coordinates", xyz_path)
        check_hand_size(xyz, xyz_path, "xyz (after metres -> mm)")
        if np.any(self.K[:, 0, 0] <= 0) or np.any(self.K[:, 1, 1] <= 0):
            raise HandposeError("intrinsics with non-positive focal length", k_path)
        scale_path = self.root / f"{prefix}_scale.json"
        self.scale_mm: np.ndarray | None = None
        if scale_path.is_file():
            self.scale_mm = as_array(read_json(scale_path), (xyz.shape[0],), "scale", scale_path) * 1000.0
            self._check_scale(xyz, self.scale_mm, scale_path)
        mano_path = self.root / f"{prefix}_mano.json"
        self.mano: np.ndarray | None = None
        if mano_path.is_file():
            self.mano = as_array(read_json(mano_path), (xyz.shape[0], 1, 61), "mano", mano_path)[:, 0]
        self.xyz = xyz
        self.num_unique = xyz.shape[0]

    @staticmethod
    def _check_scale(xyz: np.ndarray, scale_mm: np.ndarray, path: Path) -> None:
        skel = skeleton_registry.get("freihand21")
        a, b = skel.scale_bone_indices  # type: ignore[misc]
        bone = np.linalg.norm(xyz[:, a] - xyz[:, b], axis=-1)
        bad = np.flatnonzero(np.abs(bone - scale_mm) > 0.01 * np.maximum(scale_mm, 1.0) + 0.5)
        if bad.size:
            i = int(bad[0])
            raise HandposeError(
                f"sample {i}: scale {scale_mm[i]:.4g} mm disagrees with the middle MCP-PIP bone "
                f"{bone[i]:.4g} mm of the xyz file (wrong units or joint order?)",
                path,
            )

    def __len__(self) -> int:
        return self.num_unique * len(self.versions)

    def image_id(self, index: int) -> int:
        """File number of ``index``: ``idx + N * v`` with ``v`` the version's position in (gs, hom, sample, auto)."""
        version = self.versions[index // self.num_unique]
        return index % self.num_unique + self.num_unique * VERSIONS.index(version)

    def image_path(self, index: int) -> Path:
        """Image file of ``index``."""
        return self.image_dir / f"{self.image_id(index):08d}.jpg"

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        idx = index % self.num_unique
        image_id = self.image_id(index)
        image = read_rgb(self.image_path(index))
        camera = Camera.from_K(self.K[idx], image.shape[1], image.shape[0], "freihand")
        xyz = self.xyz[idx].copy()
        extras: dict[str, object] = {"version": self.versions[index // self.num_unique], "idx": idx}
        mask_path = self.mask_dir / f"{idx:08d}.jpg"
        if mask_path.is_file():
            extras["mask"] = read_label_image(mask_path) > 127
        if self.scale_mm is not None:
            extras["scale_mm"] = float(self.scale_mm[idx])
        if self.mano is not None:
            extras["mano"] = self.mano[idx].copy()
        return labelled_sample(
            image,
            xyz,
            camera,
            self.skeleton,
            f"{self.image_dir.parent.name}/rgb/{image_id:08d}.jpg",
            "rgb",
            handedness="right",
            extras=extras,
        )

    def labels_xyz(self) -> np.ndarray:
        return np.concatenate([self.xyz] * len(self.versions))
