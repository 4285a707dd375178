"""What a prediction is: the joints of one hand in camera space and in the input image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Prediction:
    """Joints of one hand.

    Attributes:
        xyz: ``(J, 3)`` camera-space mm (x right, y down, z forward); NaN where unknown (a photo
            without a hand-scale assumption has no camera-space 3D).
        uvd: ``(J, 3)`` pixel column, row and depth mm in the input image (depth NaN where unknown).
        joint_names: Names in the model's skeleton order.
        skeleton: Skeleton name.
        center_xyz: Crop centre used, mm (depth models).
        root_relative: ``(J, 3)`` joints minus the root joint (RGB models), in mm when a hand scale is
            known, else in lengths of the skeleton's scale bone (see ``root_relative_units``).
        root_relative_units: ``"mm"`` or ``"scale bone"``.
        extras: Crop geometry and anything model-specific.
    """

    xyz: np.ndarray
    uvd: np.ndarray
    joint_names: list[str]
    skeleton: str
    center_xyz: np.ndarray | None = None
    root_relative: np.ndarray | None = None
    root_relative_units: str = "mm"
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def has_camera_xyz(self) -> bool:
        """Whether the camera-space joints are known."""
        return bool(np.all(np.isfinite(self.xyz)))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; unknown values are ``null``."""
        out = {
            "skeleton": self.skeleton,
            "joint_names": self.joint_names,
            "xyz_mm": _rounded(self.xyz) if self.has_camera_xyz else None,
            "uvd": _rounded(self.uvd),
            "center_xyz_mm": None if self.center_xyz is None else _rounded(self.center_xyz),
        }
        if self.root_relative is not None:
            key = "xyz_root_relative_mm" if self.root_relative_units == "mm" else "xyz_root_relative_scale_bone"
            out[key] = _rounded(self.root_relative)
        return {**out, **self.extras}


def _rounded(values: np.ndarray) -> Any:
    """Rounded to 0.001 as nested lists, NaN as ``None`` (JSON has no NaN)."""
    out = np.round(np.asarray(values, dtype=np.float64), 3).astype(object)
    out[~np.isfinite(np.asarray(values, dtype=np.float64))] = None
    return out.tolist()
