"""Stereo Hand Pose Tracking Benchmark (STB, Zhang et al. ICIP'17) reader, SK (RealSense) colour frames.

Layout::

    <root>/images/<seq>/SK_color_<i>.png      640x480, i = 0..1499
    <root>/labels/<seq>_SK.mat                handPara: 3 x 21 x N, mm, depth-camera frame

Sequences ``B1..B6`` x ``Counting``/``Random``. The usual split (Minimal-Hand-pytorch
``datasets/stb.py``; Learnable Groups): ``train`` = B2-B6 (15,000 frames), ``test`` = B1Counting +
B1Random (3,000 frames); ``all`` = every sequence.

The SK labels are in the depth camera's frame. They are moved to the colour camera with the published
extrinsics (STB calibration as used by hand-graph-cnn and Minimal-Hand-pytorch):
``xyz_colour = (xyz_depth - t) @ R`` with ``t = (-24.0381, -0.4563, -1.2326)`` mm and ``R`` the
Rodrigues matrix of ``(0.00531, -0.01196, 0.00301)``. Colour intrinsics: the ``stb_sk`` camera.
STB shows left hands.

STB's joint 0 is the palm centre, not the wrist. ``root`` chooses what joint 0 holds:

- ``"wrist"`` (default): a wrist estimated from the palm, by ``wrist_rule``:
  ``"ring_mcp"`` (Ge et al. hand-graph-cnn, Zimmermann's hand3d): ``ring_MCP + 2 (palm - ring_MCP)``;
  ``"mean_mcp"`` (Minimal-Hand-pytorch ``stb_palm2wrist``): the mean over the index, middle, ring and
  little MCPs of ``MCP + 2.25 (palm - MCP)``. Samples use skeleton ``stb21_wrist`` (STB order, joint 0
  a wrist), so they map to ``canonical21`` completely.
- ``"palm"``: the raw palm centre, skeleton ``stb21`` (no canonical wrist).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from handpose import skeleton as skeleton_registry
from handpose.datasets.base import DatasetReader, Sample, labelled_sample, register_dataset
from handpose.datasets.rgbio import check_hand_size, load_mat_variable, read_rgb
from handpose.errors import HandposeError
from handpose.geometry import CAMERAS
from handpose.skeleton import Joint

SEQUENCES = tuple(f"B{b}{kind}" for b in range(1, 7) for kind in ("Counting", "Random"))
SPLIT_SEQUENCES = {
    "train": tuple(s for s in SEQUENCES if not s.startswith("B1")),
    "test": ("B1Counting", "B1Random"),
    "all": SEQUENCES,
}
SK_ROT_VEC = np.array([0.00531, -0.01196, 0.00301])
SK_TRANS_MM = np.array([-24.0381, -0.4563, -1.2326])
WRIST_RULES = ("ring_mcp", "mean_mcp")


def _register_wrist_skeleton() -> str:
    """STB's order with joint 0 as a wrist: ``stb21_wrist`` (registered once, alongside ``stb21``)."""
    name = "stb21_wrist"
    if name not in skeleton_registry.names():
        stb = skeleton_registry.get("stb21")
        fingers = tuple(replace(j, parent="wrist") if j.parent == "palm" else j for j in stb.joints[1:])
        joints = (Joint("wrist", None, None, 0), *fingers)
        skeleton_registry.register(
            replace(
                stb,
                name=name,
                joints=joints,
                description="STB order with the palm centre replaced by an estimated wrist (see the STB reader)",
                notes="Joint 0 is a wrist estimated from the palm centre and MCPs; the rule is the reader's wrist_rule.",
            )
        )
    return name


STB_WRIST_SKELETON = _register_wrist_skeleton()


def rodrigues(rot_vec: np.ndarray) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (radians)."""
    rot_vec = np.asarray(rot_vec, dtype=np.float64)
    theta = float(np.linalg.norm(rot_vec))
    if theta == 0:
        return np.eye(3)
    k = rot_vec / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


def depth_to_color(xyz_depth: np.ndarray) -> np.ndarray:
    """SK depth-camera mm -> SK colour-camera mm (row vectors: ``(xyz - t) @ R``)."""
    return (np.asarray(xyz_depth, dtype=np.float64) - SK_TRANS_MM) @ rodrigues(SK_ROT_VEC)


def palm_to_wrist(joints: np.ndarray, rule: str = "ring_mcp") -> np.ndarray:
    """A copy of ``(..., 21, 3)`` STB-order joints with joint 0 (palm centre) replaced by a wrist estimate."""
    stb = skeleton_registry.get("stb21")
    palm = joints[..., 0, :]
    out = np.array(joints, dtype=np.float64, copy=True)
    if rule == "ring_mcp":
        ring = joints[..., stb.index("ring_mcp"), :]
        out[..., 0, :] = ring + 2.0 * (palm - ring)
    elif rule == "mean_mcp":
        mcps = [joints[..., stb.index(f"{f}_mcp"), :] for f in ("index", "middle", "ring", "little")]
        out[..., 0, :] = np.mean([m + 2.25 * (palm - m) for m in mcps], axis=0)
    else:
        raise HandposeError(f"stb: wrist_rule must be one of {', '.join(WRIST_RULES)}, got {rule!r}")
    return out


@register_dataset
class STBReader(DatasetReader):
    """STB SK colour frames with joints in the colour camera's frame, mm, STB order.

    Args:
        root: STB folder holding ``images/`` and ``labels/``.
        split: ``"train"`` (B2-B6), ``"test"`` (B1) or ``"all"``.
        root_joint: ``"wrist"`` or ``"palm"`` (what joint 0 is; see the module docs).
        wrist_rule: ``"ring_mcp"`` or ``"mean_mcp"`` when ``root_joint="wrist"``.
        sequences: Read only these sequences of the split (default: all of them; each must exist).
    """

    name: ClassVar[str] = "stb"
    modality = "rgb"
    skeleton: ClassVar[str] = STB_WRIST_SKELETON
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")
    units: ClassVar[str] = "mm"
    camera = CAMERAS["stb_sk"]

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        root_joint: str = "wrist",
        wrist_rule: str = "ring_mcp",
        sequences: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(root, split)
        if root_joint not in ("wrist", "palm"):
            raise HandposeError(f"stb: root_joint must be 'wrist' or 'palm', got {root_joint!r}")
        if wrist_rule not in WRIST_RULES:
            raise HandposeError(f"stb: wrist_rule must be one of {', '.join(WRIST_RULES)}, got {wrist_rule!r}")
        self.root_joint, self.wrist_rule = root_joint, wrist_rule
        self.skeleton = STB_WRIST_SKELETON if root_joint == "wrist" else "stb21"  # type: ignore[misc]
        self.image_dir = self.root / "images" if (self.root / "images").is_dir() else self.root
        labels_dir = self.root / "labels"
        if not labels_dir.is_dir():
            raise HandposeError("stb: no labels/ folder (expected images/<seq>/ and labels/<seq>_SK.mat)", self.root)
        chosen = SPLIT_SEQUENCES[split] if sequences is None else tuple(sequences)
        outside = [s for s in chosen if s not in SPLIT_SEQUENCES[split]]
        if outside:
            raise HandposeError(f"stb: sequences {outside} are not in the {split} split")
        joints, self.frames = [], []
        for seq in chosen:
            mat_path = labels_dir / f"{seq}_SK.mat"
            hand_para = load_mat_variable(mat_path, "handPara")
            if hand_para.ndim != 3 or hand_para.shape[:2] != (3, 21):
                raise HandposeError(f"handPara: expected shape (3, 21, N), got {hand_para.shape}", mat_path)
            xyz = np.transpose(hand_para.astype(np.float64), (2, 1, 0))
            if not np.all(np.isfinite(xyz)):
                raise HandposeError("handPara holds NaN or infinite values", mat_path)
            check_hand_size(xyz, mat_path, "handPara")
            xyz = depth_to_color(xyz)
            if root_joint == "wrist":
                xyz = palm_to_wrist(xyz, wrist_rule)
            joints.append(xyz)
            self.frames += [(seq, i) for i in range(xyz.shape[0])]
        self.xyz = np.concatenate(joints)

    def __len__(self) -> int:
        return len(self.frames)

    def image_path(self, index: int) -> Path:
        """Colour image of frame ``index``."""
        seq, i = self.frames[index]
        return self.image_dir / seq / f"SK_color_{i}.png"

    def __getitem__(self, index: int) -> Sample:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(index)
        seq, i = self.frames[index]
        rel = f"{seq}/SK_color_{i}.png"
        image = read_rgb(self.image_dir / rel)
        xyz = self.xyz[index].copy()
        return labelled_sample(
            image,
            xyz,
            self.camera,
            self.skeleton,
            rel,
            "rgb",
            handedness="left",
            extras={"sequence": seq, "root_joint": self.root_joint, "wrist_rule": self.wrist_rule},
        )

    def labels_xyz(self) -> np.ndarray:
        return self.xyz.copy()
