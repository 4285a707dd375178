"""Reference cube-crop encodings for the tests, derived from the pixel warp (``CubeCrop.matrix``).

They are written independently of :mod:`handpose.codecs.cube` on purpose: the codec must agree with
the map that moves the depth pixels, so the tests compare the two.
"""

from __future__ import annotations

import numpy as np

from handpose.geometry import CubeCrop, uvd_to_xyz, xyz_to_uvd


def crop_pixels(crop: CubeCrop, xyz: np.ndarray) -> np.ndarray:
    """``(..., 2)`` crop pixel coordinates of camera-space points (the box spans ``[0, out_size]``)."""
    uv = xyz_to_uvd(xyz, crop.camera)[..., :2]
    m = crop.matrix
    return uv @ m[:2, :2].T + m[:2, 2]


def normalized_joints(crop: CubeCrop, xyz: np.ndarray) -> np.ndarray:
    """Cube-normalised joints: each joint's rotated crop pixel back in the image, at its own depth."""
    xyz = np.asarray(xyz, dtype=np.float64)
    centre_uv = xyz_to_uvd(np.asarray(crop.center_xyz), crop.camera)[:2]
    # Crop pixel = out_size / 2 + scale * R (uv - centre_uv), so R (uv - centre_uv) is recovered exactly.
    turned = centre_uv + (crop_pixels(crop, xyz) - crop.out_size / 2) / crop.scale
    rotated = uvd_to_xyz(np.concatenate([turned, xyz[..., 2:]], axis=-1), crop.camera)
    return (rotated - np.asarray(crop.center_xyz)) / (np.asarray(crop.cube) / 2)


def joints_crop(crop: CubeCrop, xyz: np.ndarray) -> np.ndarray:
    """``joints_crop``: crop u, v rescaled to [-1, 1] across the crop, and the normalised depth."""
    uv = crop_pixels(crop, xyz) * 2 / crop.out_size - 1
    depth = (np.asarray(xyz)[..., 2:] - crop.center_xyz[2]) / (crop.cube[2] / 2)
    return np.concatenate([uv, depth], axis=-1)
