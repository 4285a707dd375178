"""The "cube" output space of depth models, for batches of numpy arrays or torch tensors.

A depth crop is defined per sample by its cube centre ``center_xyz`` (mm), cube edge lengths
``cube`` (mm), in-plane ``rotation_deg`` and the full image's intrinsics ``camera`` = (fx, fy, cx, cy)
— exactly the geometry keys of :class:`handpose.batch.DepthBatch`. These functions are the batched
twins of :class:`handpose.geometry.CubeCrop`'s ``normalize_xyz`` / ``denormalize_xyz`` and of the
crop coordinates :class:`handpose.transforms.depth.DepthCropTransform` writes:

- :func:`encode` / :func:`decode`: camera mm <-> ``(xyz' - centre) / (cube / 2)``, where for a rotated
  crop ``xyz'`` are the joints turned in the image about the centre pixel and back-projected at their
  own depth (so the targets agree with the rotated pixels).
- :func:`encode_crop` / :func:`decode_crop`: camera mm <-> ``joints_crop`` = crop u, v normalised to
  [-1, 1] across the crop (edges at +-1, see :mod:`handpose.codecs.heatmap`) and depth
  ``(d - z_centre) / (cube_z / 2)``. The crop side in pixels does not enter.

Shapes: joints ``(..., J, 3)``, centre and cube ``(..., 3)``, rotation ``(...)``, camera ``(..., 4)``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

Array = Any  # numpy.ndarray or torch.Tensor


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class _Ops:
    """The few array operations needed, on one backend, with every input converted to it."""

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


def _project(xyz: Array, cam: Array, ops: _Ops) -> Array:
    z = xyz[..., 2]
    return ops.stack([xyz[..., 0] * cam[..., 0] / z + cam[..., 2], xyz[..., 1] * cam[..., 1] / z + cam[..., 3], z])


def _backproject(uvd: Array, cam: Array, ops: _Ops) -> Array:
    d = uvd[..., 2]
    return ops.stack([(uvd[..., 0] - cam[..., 2]) * d / cam[..., 0], (uvd[..., 1] - cam[..., 3]) * d / cam[..., 1], d])


def _rotate_uv(du: Array, dv: Array, angle: Array, ops: _Ops) -> tuple[Array, Array]:
    # Same sense as CubeCrop.matrix: counter-clockwise on screen in a y-down image.
    c, s = ops.cos(angle), ops.sin(angle)
    return c * du + s * dv, -s * du + c * dv


def _rotate_in_image(xyz: Array, center: Array, angle: Array, cam: Array, ops: _Ops) -> Array:
    uvd = _project(xyz, cam, ops)
    cuv = _project(center, cam, ops)
    du, dv = _rotate_uv(uvd[..., 0] - cuv[..., 0], uvd[..., 1] - cuv[..., 1], angle, ops)
    return _backproject(ops.stack([du + cuv[..., 0], dv + cuv[..., 1], uvd[..., 2]]), cam, ops)


def encode(joints_xyz: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Camera mm -> cube-normalised joints (what depth models regress)."""
    ops = _Ops(joints_xyz)
    xyz = ops.asarray(joints_xyz)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    xyz = _rotate_in_image(xyz, center, angle, cam, ops)
    return (xyz - center) / (cube_ / 2)


def decode(joints_norm: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Cube-normalised joints -> camera mm; the exact inverse of :func:`encode`."""
    ops = _Ops(joints_norm)
    norm = ops.asarray(joints_norm)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    xyz = norm * (cube_ / 2) + center
    return _rotate_in_image(xyz, center, -angle, cam, ops)


def _box_half_pixels(center: Array, cube_: Array, cam: Array, ops: _Ops) -> Array:
    """Half the side of the square crop box in image pixels (CubeCrop.scale's denominator)."""
    z = center[..., 2]
    half_w = cube_[..., 0] / 2 * ops.abs(cam[..., 0]) / z
    half_h = cube_[..., 1] / 2 * ops.abs(cam[..., 1]) / z
    return ops.maximum(half_w, half_h)


def encode_crop(joints_xyz: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """Camera mm -> ``joints_crop`` (crop u, v in [-1, 1] across the crop, normalised depth)."""
    ops = _Ops(joints_xyz)
    xyz = ops.asarray(joints_xyz)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    uvd = _project(xyz, cam, ops)
    cuv = _project(center, cam, ops)
    half = _box_half_pixels(center, cube_, cam, ops)
    du, dv = _rotate_uv(uvd[..., 0] - cuv[..., 0], uvd[..., 1] - cuv[..., 1], angle, ops)
    return ops.stack([du / half, dv / half, (uvd[..., 2] - center[..., 2]) / (cube_[..., 2] / 2)])


def decode_crop(joints_crop: Array, center_xyz: Array, cube: Array, rotation_deg: Array, camera: Array) -> Array:
    """``joints_crop`` -> camera mm; the exact inverse of :func:`encode_crop` (for heatmap + depth heads)."""
    ops = _Ops(joints_crop)
    crop = ops.asarray(joints_crop)
    center, cube_, angle, cam = _unpack(ops, center_xyz, cube, rotation_deg, camera)
    cuv = _project(center, cam, ops)
    half = _box_half_pixels(center, cube_, cam, ops)
    du, dv = _rotate_uv(crop[..., 0] * half, crop[..., 1] * half, -angle, ops)
    d = crop[..., 2] * (cube_[..., 2] / 2) + center[..., 2]
    return _backproject(ops.stack([du + cuv[..., 0], dv + cuv[..., 1], d]), cam, ops)


def decode_batch(joints: Array, batch: Any, space: str = "cube") -> Array:
    """Decode a model's joints with the geometry stored in a :class:`~handpose.batch.DepthBatch`.

    Args:
        joints: ``(B, J, 3)`` model output.
        batch: Mapping with ``center_xyz``, ``cube``, ``rotation_deg`` and ``camera``.
        space: ``"cube"`` (cube-normalised xyz, :func:`decode`) or ``"crop"`` (``joints_crop`` layout,
            :func:`decode_crop`).

    Returns:
        ``(B, J, 3)`` camera mm.
    """
    geometry = (batch["center_xyz"], batch["cube"], batch["rotation_deg"], batch["camera"])
    if space == "cube":
        return decode(joints, *geometry)
    if space == "crop":
        return decode_crop(joints, *geometry)
    raise ValueError(f"unknown space {space!r}; use 'cube' or 'crop'")
