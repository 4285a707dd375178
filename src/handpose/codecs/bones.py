"""Joints <-> bone vectors on a skeleton's kinematic tree (the ResUnet bone target).

A bone vector is ``B = J_child - J_parent`` for every ``(parent, child)`` pair in
:attr:`handpose.skeleton.Skeleton.bones` (20 bones for a 21-joint hand, in native joint order).
Joints come back by adding, from the kinematic root outwards, each joint's parent position to its
bone; that sum is written once as an ancestor matrix ``A`` (joint x bone, 1 where the bone lies on
the path from the root to the joint), so ``joints = root + A @ bones`` for numpy arrays and torch
tensors alike, with gradients.

The inverse is exact up to float rounding: encoding and decoding in float64 reproduces joints to
~1e-12 mm, in float32 to ~1e-4 mm.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

import numpy as np
import torch

from handpose import skeleton as skeleton_registry
from handpose.errors import HandposeError
from handpose.skeleton import Skeleton

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _single_root(skel: Skeleton) -> int:
    roots = [i for i, p in enumerate(skel.parents) if p < 0]
    if len(roots) != 1:
        raise HandposeError(
            f"skeleton {skel.name} has {len(roots)} kinematic roots; bone vectors need a single connected tree"
        )
    return roots[0]


@lru_cache(maxsize=64)
def _ancestor_matrix(name: str) -> np.ndarray:
    """``(J, B)`` 0/1 matrix: joint j = root + sum of the bones on its path from the root."""
    skel = skeleton_registry.get(name)
    _single_root(skel)
    bone_of_child = {child: b for b, (_, child) in enumerate(skel.bones)}
    a = np.zeros((skel.num_joints, len(skel.bones)), dtype=np.float64)
    for j in skel.topological_order:
        p = skel.parents[j]
        if p >= 0:
            a[j] = a[p]
            a[j, bone_of_child[j]] = 1.0
    return a


def _bone_indices(skel: Skeleton | str) -> tuple[np.ndarray, np.ndarray]:
    """``(parent, child)`` index arrays of the skeleton's bones, in :attr:`Skeleton.bones` order."""
    skel = skeleton_registry.get(skel)
    bones = np.asarray(skel.bones, dtype=np.int64).reshape(-1, 2)
    return bones[:, 0], bones[:, 1]


def joints_to_bones(joints: ArrayT, skel: Skeleton | str) -> ArrayT:
    """Bone vectors ``J_child - J_parent``.

    Args:
        joints: ``(..., J, 3)`` joints in the skeleton's native order (numpy or torch).
        skel: Skeleton or its registry name.

    Returns:
        ``(..., B, 3)`` bone vectors, same type, dtype and device as ``joints``.
    """
    skel = skeleton_registry.get(skel)
    _check_count(joints.shape, skel.num_joints, "joints", skel)
    parent, child = _bone_indices(skel)
    if isinstance(joints, torch.Tensor):
        p = torch.as_tensor(parent, device=joints.device)
        c = torch.as_tensor(child, device=joints.device)
        return joints.index_select(-2, c) - joints.index_select(-2, p)
    joints = np.asarray(joints)
    return joints[..., child, :] - joints[..., parent, :]


def bones_to_joints(
    bones: ArrayT,
    skel: Skeleton | str,
    root_xyz: ArrayT | None = None,
    anchor_index: int | None = None,
) -> ArrayT:
    """Joints from bone vectors: the exact inverse of :func:`joints_to_bones`.

    Args:
        bones: ``(..., B, 3)`` bone vectors in :attr:`Skeleton.bones` order.
        skel: Skeleton or its registry name.
        root_xyz: ``(..., 3)`` position of the anchor joint; zeros when omitted.
        anchor_index: Joint placed at ``root_xyz``. Defaults to the kinematic root (the wrist for
            21-joint hands); pass ``skel.root_index`` to pin the middle MCP instead (the "rel" space).

    Returns:
        ``(..., J, 3)`` joints in native order, same type as ``bones``.
    """
    skel = skeleton_registry.get(skel)
    _check_count(bones.shape, len(skel.bones), "bones", skel)
    a_np = _ancestor_matrix(skel.name)
    if isinstance(bones, torch.Tensor):
        a = torch.as_tensor(a_np, dtype=bones.dtype, device=bones.device)
        joints = torch.einsum("jb,...bc->...jc", a, bones)
    else:
        bones = np.asarray(bones)
        joints = np.einsum("jb,...bc->...jc", a_np.astype(np.result_type(bones, np.float32)), bones)
    if anchor_index is not None and anchor_index != _single_root(skel):
        joints = joints - joints[..., anchor_index : anchor_index + 1, :]
    if root_xyz is not None:
        joints = joints + root_xyz[..., None, :]
    return joints


def _check_count(shape: tuple[int, ...] | torch.Size, expected: int, what: str, skel: Skeleton) -> None:
    if len(shape) < 2 or shape[-1] != 3 or shape[-2] != expected:
        raise HandposeError(f"expected (..., {expected}, 3) {what} for skeleton {skel.name}, got shape {tuple(shape)}")
