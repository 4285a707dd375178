"""What a prediction is: the joints of one hand in camera space and in the input image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Prediction:
    """Joints of one hand.

    Attributes:
        xyz: ``(J, 3)`` camera-space mm (x right, y down, z forward).
        uvd: ``(J, 3)`` pixel column, row and depth mm in the input image.
        joint_names: Names in the model's skeleton order.
        skeleton: Skeleton name.
        center_xyz: Crop centre used, mm (depth models).
        extras: Crop geometry and anything model-specific.
    """

    xyz: np.ndarray
    uvd: np.ndarray
    joint_names: list[str]
    skeleton: str
    center_xyz: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "skeleton": self.skeleton,
            "joint_names": self.joint_names,
            "xyz_mm": np.round(self.xyz, 3).tolist(),
            "uvd": np.round(self.uvd, 3).tolist(),
            "center_xyz_mm": None if self.center_xyz is None else np.round(self.center_xyz, 3).tolist(),
            **self.extras,
        }
