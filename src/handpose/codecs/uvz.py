"""The 2.5D ("uvz") and root-relative ("rel") joint representations, with exact inverses.

``"uvz"`` (Iqbal et al. ECCV'18; Learnable Joint Groups, Li et al. AAAI'21): per joint, the crop
pixel position scaled to [-1, 1] and the depth relative to the root in units of the scale bone::

    u_pix = fx * x / z + cx          (crop intrinsics K_crop, pixels of the S x S crop)
    u     = (2 * u_pix + 1) / S - 1  (pixel centres at integers: the crop's outer edges are -1 and +1)
    z_rel = (z - z_root) / scale

``root`` is the skeleton's :attr:`~handpose.skeleton.Skeleton.root_index` (middle MCP) and ``scale``
the length of its scale bone (middle MCP-PIP). Decoding needs the root depth and the scale, as in the
reference evaluation (``eval_RHD.py: P2W``): ``z = z_rel * scale + z_root``, then
``x = z * (u_pix - cx) / fx`` and ``y = z * (v_pix - cy) / fy``.

``"rel"``: ``(xyz - root_xyz) / scale``; decoding needs ``root_xyz`` and ``scale``.

Every function takes numpy arrays or torch tensors (any leading batch shape) and returns the same
kind, so a model's outputs decode with gradients. Round trips in float64 are exact to ~1e-9 mm.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch

from handpose import skeleton as skeleton_registry
from handpose.codecs.heatmap import pixels_to_uv, uv_to_pixels
from handpose.errors import HandposeError
from handpose.skeleton import Skeleton

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _stack(parts: list[Any], like: Any) -> Any:
    if isinstance(like, torch.Tensor):
        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def _root_and_scale_indices(skel: Skeleton) -> tuple[int, int, int]:
    bone = skel.scale_bone_indices
    if bone is None:
        raise HandposeError(f"skeleton {skel.name} has no scale bone; the 2.5D representation needs one")
    return skel.root_index, bone[0], bone[1]


def root_and_scale(joints_xyz: ArrayT, skel: Skeleton | str) -> tuple[ArrayT, ArrayT]:
    """Root joint ``(..., 3)`` and scale-bone length ``(...,)`` of ``(..., J, 3)`` joints."""
    skel = skeleton_registry.get(skel)
    if joints_xyz.shape[-2:] != (skel.num_joints, 3):
        raise HandposeError(
            f"expected (..., {skel.num_joints}, 3) joints for skeleton {skel.name}, got {tuple(joints_xyz.shape)}"
        )
    root, a, b = _root_and_scale_indices(skel)
    d = joints_xyz[..., a, :] - joints_xyz[..., b, :]
    return joints_xyz[..., root, :], (d * d).sum(-1) ** 0.5


def encode_uvz(
    joints_xyz: ArrayT, K_crop: ArrayT, crop_size: int, skel: Skeleton | str
) -> tuple[ArrayT, ArrayT, ArrayT]:
    """Camera-space mm -> the 2.5D representation.

    Args:
        joints_xyz: ``(..., J, 3)`` camera-space mm, in ``skel``'s order.
        K_crop: ``(..., 3, 3)`` intrinsics of the crop.
        crop_size: Side ``S`` of the square crop in pixels.
        skel: Skeleton (or name) giving the root joint and scale bone.

    Returns:
        ``(uvz, root_xyz, scale)``: ``(..., J, 3)`` targets, ``(..., 3)`` root joint mm and ``(...,)`` scale mm.
    """
    root_xyz, scale = root_and_scale(joints_xyz, skel)
    x, y, z = joints_xyz[..., 0], joints_xyz[..., 1], joints_xyz[..., 2]
    fx, fy = K_crop[..., 0, 0, None], K_crop[..., 1, 1, None]
    cx, cy = K_crop[..., 0, 2, None], K_crop[..., 1, 2, None]
    u = pixels_to_uv(fx * x / z + cx, crop_size)
    v = pixels_to_uv(fy * y / z + cy, crop_size)
    z_rel = (z - root_xyz[..., 2, None]) / scale[..., None]
    return _stack([u, v, z_rel], joints_xyz), root_xyz, scale


def decode_uvz(uvz: ArrayT, K_crop: ArrayT, crop_size: int, root_depth: ArrayT, scale: ArrayT) -> ArrayT:
    """The 2.5D representation -> camera-space mm (exact inverse of :func:`encode_uvz`).

    Args:
        uvz: ``(..., J, 3)`` crop u, v in [-1, 1] and relative depth.
        K_crop: ``(..., 3, 3)`` intrinsics of the crop.
        crop_size: Side ``S`` of the crop in pixels.
        root_depth: ``(...,)`` root joint depth ``z_root`` in mm (e.g. ``root_xyz[..., 2]``).
        scale: ``(...,)`` scale-bone length in mm.
    """
    z = uvz[..., 2] * scale[..., None] + root_depth[..., None]
    fx, fy = K_crop[..., 0, 0, None], K_crop[..., 1, 1, None]
    cx, cy = K_crop[..., 0, 2, None], K_crop[..., 1, 2, None]
    x = z * (uv_to_pixels(uvz[..., 0], crop_size) - cx) / fx
    y = z * (uv_to_pixels(uvz[..., 1], crop_size) - cy) / fy
    return _stack([x, y, z], uvz)


def recover_root_depth(uvz: np.ndarray, K_crop: np.ndarray, crop_size: int, skel: Skeleton | str) -> np.ndarray:
    """Root depth in units of the scale bone, from 2.5D joints alone (Iqbal et al. ECCV'18, Sec. 3.3).

    The scale bone's two ends back-projected at ``z_root + z_rel`` must lie one scale length apart:
    ``|(Z + d_a) K^-1 [u_a, v_a, 1] - (Z + d_b) K^-1 [u_b, v_b, 1]| = 1``, a quadratic in ``Z`` whose
    larger root is the hand in front of the camera. Multiply by the bone's length in mm to get mm.

    Args:
        uvz: ``(..., J, 3)`` 2.5D joints (crop u, v in [-1, 1], depth relative to the root in scale units).
        K_crop: ``(..., 3, 3)`` intrinsics of the crop.
        crop_size: Side of the crop in pixels.
        skel: Skeleton (or name) giving the root joint and scale bone.

    Returns:
        ``(...,)`` root depth ``z_root / scale``.

    Raises:
        HandposeError: The scale bone is seen end-on (both ends on one pixel), so its length fixes nothing.
    """
    skel = skeleton_registry.get(skel)
    _, a, b = _root_and_scale_indices(skel)
    uvz = np.asarray(uvz, dtype=np.float64)
    K = np.asarray(K_crop, dtype=np.float64)
    pix = uv_to_pixels(uvz[..., :2], crop_size)
    fx, fy, cx, cy = K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2]

    def ray(j: int) -> np.ndarray:
        return np.stack([(pix[..., j, 0] - cx) / fx, (pix[..., j, 1] - cy) / fy, np.ones_like(fx)], axis=-1)

    ray_a, ray_b = ray(a), ray(b)
    p = ray_a - ray_b
    q = uvz[..., a, 2, None] * ray_a - uvz[..., b, 2, None] * ray_b
    pp, pq, qq = (p * p).sum(-1), (p * q).sum(-1), (q * q).sum(-1)
    if np.any(pp < 1e-12):
        raise HandposeError("the scale bone projects to a single pixel: the root depth cannot be recovered")
    return (-pq + np.sqrt(np.maximum(pq * pq - pp * (qq - 1.0), 0.0))) / pp


def lift_uvz(
    uvz: np.ndarray, K_crop: np.ndarray, crop_size: int, skel: Skeleton | str, scale_mm: float | np.ndarray
) -> np.ndarray:
    """2.5D joints -> camera mm for a hand whose scale bone is ``scale_mm`` long (no labels needed).

    ``scale_mm`` is one length for every hand or ``(...,)`` lengths, one per hand.
    """
    uvz = np.asarray(uvz, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale_mm, dtype=np.float64), uvz.shape[:-2])
    root = recover_root_depth(uvz, K_crop, crop_size, skel) * scale
    return decode_uvz(uvz, np.asarray(K_crop, np.float64), crop_size, root, scale)


def encode_rel(joints_xyz: ArrayT, skel: Skeleton | str) -> tuple[ArrayT, ArrayT, ArrayT]:
    """Camera mm -> ``(rel, root_xyz, scale)`` with ``rel = (xyz - root_xyz) / scale``."""
    root_xyz, scale = root_and_scale(joints_xyz, skel)
    return (joints_xyz - root_xyz[..., None, :]) / scale[..., None, None], root_xyz, scale


def decode_rel(rel: ArrayT, root_xyz: ArrayT, scale: ArrayT) -> ArrayT:
    """Exact inverse of :func:`encode_rel`."""
    return rel * scale[..., None, None] + root_xyz[..., None, :]


def encode_targets(
    joints_xyz: np.ndarray, K_crop: np.ndarray, crop_size: int, skel: Skeleton | str, space: str
) -> dict[str, np.ndarray]:
    """The RGB targets of one crop (the target keys of :class:`~handpose.batch.RGBBatch`).

    Args:
        joints_xyz: ``(J, 3)`` camera mm in the crop's camera; NaN for joints a dataset lacks.
        K_crop: ``(3, 3)`` intrinsics of the crop.
        crop_size: Side of the crop in pixels.
        skel: Skeleton of the joints.
        space: The model's output space, ``"uvz"`` or ``"rel"``: which target ``joints`` holds.

    Returns:
        ``joints``, ``joints_crop`` (2.5D), ``joints_rel``, ``root_xyz`` and ``scale`` (float64). A
        skeleton without a scale bone (fingertips only) gets crop ``u, v`` alone, everything else NaN.
    """
    if space not in ("uvz", "rel"):
        raise HandposeError(f"RGB models predict 'uvz' or 'rel' joints, not {space!r}")
    skel = skeleton_registry.get(skel)
    xyz = np.asarray(joints_xyz, dtype=np.float64)
    k = np.asarray(K_crop, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # unlabelled joints stay NaN
        if skel.scale_bone_indices is not None:
            joints_crop, root_xyz, scale = encode_uvz(xyz, k, crop_size, skel)
            joints_rel, _, _ = encode_rel(xyz, skel)
        else:
            root_xyz, scale = np.full(3, np.nan), np.array(np.nan)
            joints_crop = np.full_like(xyz, np.nan)
            z = xyz[..., 2]
            joints_crop[..., 0] = pixels_to_uv(k[0, 0] * xyz[..., 0] / z + k[0, 2], crop_size)
            joints_crop[..., 1] = pixels_to_uv(k[1, 1] * xyz[..., 1] / z + k[1, 2], crop_size)
            joints_rel = np.full_like(xyz, np.nan)
    return {
        "joints": joints_crop if space == "uvz" else joints_rel,
        "joints_crop": joints_crop,
        "joints_rel": joints_rel,
        "root_xyz": np.asarray(root_xyz),
        "scale": np.asarray(scale),
    }
