"""The "cube" output space of depth models, for batches of numpy arrays or torch tensors.

A depth crop is defined per sample by its cube centre ``center_xyz`` (mm), cube edge lengths
``cube`` (mm), in-plane ``rotation_deg`` and the full image's intrinsics ``camera`` = (fx, fy, cx, cy)
— exactly the geometry keys of :class:`handpose.batch.DepthBatch` (and of
:class:`handpose.geometry.CubeCrop`, whose ``matrix`` warps the pixels these encodings agree with).
This module is the only home of the depth encodings;
:class:`handpose.transforms.depth.DepthCropTransform` calls it:

- :func:`encode` / :func:`decode`: camera mm <-> ``(xyz' - centre) / (cube / 2)``, where for a rotated
  crop ``xyz'`` are the joints turned in the image about the centre pixel and back-projected at their
  own depth (so the targets agree with the rotated pixels).
- :func:`encode_crop` / :func:`decode_crop`: camera mm <-> ``joints_crop`` = crop u, v normalised to
  [-1, 1] across the crop (edges at +-1, see :mod:`handpose.codecs.heatmap`) and depth
  ``(d - z_centre) / (cube_z / 2)``. The crop side in pixels does not enter. :func:`encode_joints`
  gives both at once.
- :func:`bound`: predicted cube-normalised joints clipped to the cube (prediction and evaluation
  decode through it; losses see the raw outputs).
- :func:`encode_depth`: the depth pixels of a crop -> ``(d - z_centre) / (cube_z / 2)`` in [-1, 1],
  with the one missing-depth policy (:func:`missing_depth`): a pixel whose depth is not finite or not
  positive is missing, and missing pixels, like everything outside the cube, take the background
  value +1. Training crops and the arrays users hand to :class:`handpose.inference.Estimator` go
  through the same transform, hence through this function once.

Shapes: joints ``(..., J, 3)``, centre and cube ``(..., 3)``, rotation ``(...)``, camera ``(..., 4)``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

Array = Any  # numpy.ndarray or torch.Tensor

BACKGROUND = 1.0  # normalised value of background, missing and out-of-cube depth pixels


def missing_depth(depth_mm: np.ndarray) -> np.ndarray:
    """The missing-depth policy: ``True`` where the depth is not a finite positive number (NaN, inf, 0, < 0)."""
    d = np.asarray(depth_mm)
    with np.errstate(invalid="ignore"):
        return ~((d > 0) & np.isfinite(d))


def encode_depth(
    depth_mm: np.ndarray, center_z: float, half_depth: float, background: float = BACKGROUND
) -> np.ndarray:
    """Depth pixels (mm) -> ``(d - center_z) / half_depth``; missing or outside ``[-1, 1]`` -> ``background``.

    Args:
        depth_mm: Depth crop in mm, any shape; missing pixels by :func:`missing_depth` (0, NaN, ...).
        center_z: Depth of the cube centre, mm.
        half_depth: Half the cube's depth extent, mm.
        background: Value of missing and out-of-cube pixels.

    Returns:
        float32 array of ``depth_mm``'s shape, finite everywhere.
    """
    d = np.asarray(depth_mm, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        out = (d - np.float32(center_z)) * np.float32(1.0 / half_depth)
        outside = ~(np.abs(out) <= 1)  # NaN compares false, so NaN counts as outside too
    out[outside | missing_depth(d)] = background
    return out


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class _Ops:
    """The few array operations needed, on one backend, with every input converted to it."""

    mod: Any  # numpy or torch

    def __init__(self, like: Any) -> None:
        self.torch = _is_torch(like)
        if self.torch:
            import torch

            self.dtype = like.dtype if like.dtype.is_floating_point else torch.float32
            self.device = like.device
            self.mod = torch
        else:
            self.mod = np

    def asarray(self, x: Any) -> Array:
        if self.torch:
            return self.mod.as_tensor(x, dtype=self.dtype, device=self.device)
        return np.asarray(x, dtype=np.float64)

    def stack(self, xs: list[Array]) -> Array:
        return self.mod.stack(xs, -1)

    def cos(self, x: Array) -> Array:
        return self.mod.cos(x)

    def sin(self, x: Array) -> Array:
        return self.mod.sin(x)

    def abs(self, x: Array) -> Array:
        return self.mod.abs(x)

    def maximum(self, a: Array, b: Array) -> Array:
        return self.mod.maximum(a, b)


def _unpack(ops: _Ops, center_xyz: Any, cube: Any, rotation_deg: Any, camera: Any) -> tuple[Array, ...]:
    center = ops.asarray(center_xyz)[..., None, :]  # broadcast over joints
    cube_ = ops.asarray(cube)[..., None, :]
    angle = ops.asarray(rotation_deg)[..., None] * (math.pi / 180.0)
    cam = ops.asarray(camera)[..., None, :]
    return center, cube_, angle, cam


# Points travel as (x, y, z) component tuples: one stack at the end instead of one per step.
def _project(x: Array, y: Array, z: Array, cam: Array) -> tuple[Array, Array]:
    return x * cam[..., 0] / z + cam[..., 2], y * cam[..., 1] / z + cam[..., 3]


def _backproject(u: Array, v: Array, d: Array, cam: Array) -> tuple[Array, Array]:
    return (u - cam[..., 2]) * d / cam[..., 0], (v - cam[..., 3]) * d / cam[..., 1]


def _rotate_uv(du: Array, dv: Array, angle: Array, ops: _Ops) -> tuple[Array, Array]:
    # Same sense as CubeCrop.matrix: counter-clockwise on screen in a y-down image.
    c, s = ops.cos(angle), ops.sin(angle)
    return c * du + s * dv, -s * du + c * dv


def _center_pixel(center: Array, cam: Array) -> tuple[Array, Array]:
    return _project(center[..., 0], center[..., 1], center[..., 2], cam)


def _rotate_in_image(
    x: Array, y: Array, z: Array, center: Array, angle: Array, cam: Array, ops: _Ops
) -> tuple[Array, Array]:
    """x, y of the points turned by ``angle`` in the image about the centre pixel, each at its own depth."""
    u, v = _project(x, y, z, cam)
    cu, cv = _center_pixel(center, cam)
    du, dv = _rotate_uv(u - cu, v - cv, angle, ops)
    return _backproject(du + cu, dv + cv, z, cam)


def _box_half_pixels(center: Array, cube_: Array, cam: Array, ops: _Ops) -> Array:
    """Half the side of the square crop box in image pixels (CubeCrop.scale's denominator)."""
    z = center[..., 2]
    half_w = cube_[..., 0] / 2 * ops.abs(cam[..., 0]) / z
    half_h = cube_[..., 1] / 2 * ops.abs(cam[..., 1]) / z
    return ops.maximum(half_w, half_h)


def encode_joints(
    joints_xyz: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array
) -> tuple[Array, Array]:
    """Camera mm -> ``(joints, joints_crop)``: :func:`encode` and :func:`encode_crop` sharing one projection.

    Unlabelled (NaN) joints stay NaN in both.
    """
    ops = _Ops(joints_xyz)
    xyz = ops.asarray(joints_xyz)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    u, v = _project(x, y, z, cam)
    cu, cv = _center_pixel(center, cam)
    du, dv = _rotate_uv(u - cu, v - cv, angle, ops)
    rx, ry = _backproject(du + cu, dv + cv, z, cam)
    half_cube = cube_ / 2
    dz = (z - center[..., 2]) / half_cube[..., 2]
    joints = ops.stack([(rx - center[..., 0]) / half_cube[..., 0], (ry - center[..., 1]) / half_cube[..., 1], dz])
    half = _box_half_pixels(center, cube_, cam, ops)
    return joints, ops.stack([du / half, dv / half, dz])


def encode(joints_xyz: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Camera mm -> cube-normalised joints (what depth models regress)."""
    return encode_joints(joints_xyz, center_xyz, cube, rotation_deg, camera)[0]


def encode_crop(joints_xyz: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Camera mm -> ``joints_crop`` (crop u, v in [-1, 1] across the crop, normalised depth)."""
    return encode_joints(joints_xyz, center_xyz, cube, rotation_deg, camera)[1]


def decode(joints_norm: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Cube-normalised joints -> camera mm; the exact inverse of :func:`encode`."""
    ops = _Ops(joints_norm)
    norm = ops.asarray(joints_norm)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    xyz = norm * (cube_ / 2) + center
    z = xyz[..., 2]
    x, y = _rotate_in_image(xyz[..., 0], xyz[..., 1], z, center, -angle, cam, ops)
    return ops.stack([x, y, z])


def bound(joints_norm: Array) -> Array:
    """Cube-normalised joints clipped to the cube, ``[-1, 1]`` on every axis (predictions, never targets).

    The crop cube is chosen to hold the hand, so a predicted joint outside it is the network
    extrapolating on an input unlike its training crops (a forearm reaching towards the camera, say).
    Clipping to a box moves a point nearer to every point inside the box, so for a labelled joint
    inside the cube the error in the cube's coordinates can only shrink (in camera mm too for an
    unrotated crop, as every evaluation crop is); only a joint that really lies outside can lose.
    """
    if _is_torch(joints_norm):
        return joints_norm.clamp(-1.0, 1.0)
    return np.clip(joints_norm, -1.0, 1.0)


def decode_crop(joints_crop: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """``joints_crop`` -> camera mm; the exact inverse of :func:`encode_crop` (for heatmap + depth heads)."""
    ops = _Ops(joints_crop)
    crop = ops.asarray(joints_crop)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    cu, cv = _center_pixel(center, cam)
    half = _box_half_pixels(center, cube_, cam, ops)
    du, dv = _rotate_uv(crop[..., 0] * half, crop[..., 1] * half, -angle, ops)
    d = crop[..., 2] * (cube_[..., 2] / 2) + center[..., 2]
    x, y = _backproject(du + cu, dv + cv, d, cam)
    return ops.stack([x, y, d])
