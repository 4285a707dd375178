"""Linear blend skinning of the WebXR hand mesh by the engine's articulated skeleton.

Every one of the mesh's 25 bones is tied to a bone of the kinematic model (:mod:`handpose.synth.hand`):
the wrist to the hand frame, each finger metacarpal to the segment from its carpal base to its MCP
joint, and each phalanx to the matching phalanx. A bone's transform takes its bind-pose frame
``(o_b, G_b)`` (origin at the mesh joint, ``y`` towards the child joint) to the posed frame
``(p_b, F_b)`` of the model, scaled along the bone by the ratio of the model's bone length to the
mesh's and across it by the hand's size and thickness::

    M_b v = p_b + F_b S_b G_b^T (v - o_b),    S_b = diag(t, L_model / L_mesh, t)

so the skinned skeleton has exactly the model's joints and bone lengths (a mesh joint maps onto the
model's joint), and vertices blend their four bones' transforms with the file's weights. The bind
frames' twist about each bone follows the model's rest frames, so an unposed model keeps the mesh's
palm and pulp facing where the model's do. Normals use ``F_b S_b^-1 G_b^T`` (the inverse transpose).

Fingertips: the mesh's tip joints sit inside the pads; the model's finger ends (tip joint plus the
inset of :mod:`~handpose.synth.hand`) map onto the point where the distal bone's axis leaves the mesh,
which is where the tip label goes (datasets label fingertips on the skin, other joints at centres).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba
import numpy as np

from handpose.synth import hand
from handpose.synth.mesh import CANONICAL_TO_WEBXR, CHILD, NUM_BONES, HandMesh, load_hand_mesh

# Kinds of bone: driven by a canonical joint's segment, a finger metacarpal, or the hand frame.
_SEGMENT, _METACARPAL, _WRIST = 0, 1, 2
TIP_JOINTS = (4, 8, 12, 16, 20)
WRIST_LABEL_RADIUS = 26.0  # the wrist joint sits in the forearm: label radius as for the capsule hand

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


def _bone_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per WebXR bone: kind, the canonical joint (or metacarpal index) that drives it, and its end joint."""
    kind = np.full(NUM_BONES, _SEGMENT, dtype=np.int64)
    source = np.zeros(NUM_BONES, dtype=np.int64)
    end = np.zeros(NUM_BONES, dtype=np.int64)
    kind[0] = _WRIST
    for b, j in zip((1, 2, 3, 4), (1, 2, 3, 3)):
        source[b], end[b] = j, j + 1
    for f in range(1, 5):
        base, mcp = 5 + 5 * (f - 1), 1 + 4 * f
        kind[base], source[base], end[base] = _METACARPAL, f - 1, mcp
        for k, j in enumerate((mcp, mcp + 1, mcp + 2, mcp + 2), start=1):
            source[base + k], end[base + k] = j, j + 1
    return kind, source, end


BONE_KIND, BONE_SOURCE, BONE_END = _bone_table()


@dataclass(frozen=True)
class Rig:
    """A hand mesh prepared for skinning by the kinematic model.

    Attributes:
        mesh: The bind-pose mesh (right-hand frame, mm).
        bind_origin: ``(25, 3)`` where each bone's transform is anchored (a tip bone shares its distal
            bone's anchor and frame).
        bind_axes: ``(25, 3, 3)`` orthonormal bind frames ``G_b`` (columns; ``y`` along the bone).
        bind_length: ``(25,)`` mesh bone lengths (distal bones: to where the axis leaves the fingertip).
        reference_length: Mesh hand length, wrist joint to the middle fingertip's skin, mm.
        label_radius: ``(21,)`` flesh around each label point at reference size, mm.
    """

    mesh: HandMesh
    bind_origin: np.ndarray
    bind_axes: np.ndarray
    bind_length: np.ndarray
    reference_length: float
    label_radius: np.ndarray


def _exit_distance(mesh: HandMesh, origin: np.ndarray, direction: np.ndarray) -> float:
    """Largest ray parameter at which ``origin + t direction`` crosses a triangle (leaving the mesh)."""
    tri = mesh.vertices[mesh.triangles]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - tri[:, 0]
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return float(t[hit].max()) if hit.any() else 0.0


def _orthonormal(y: np.ndarray, z_ref: np.ndarray) -> np.ndarray:
    y = y / np.linalg.norm(y)
    z = z_ref - (z_ref @ y) * y
    z /= np.linalg.norm(z)
    return np.stack([np.cross(y, z), y, z], axis=1)


def build_rig(mesh: HandMesh) -> Rig:
    """Bind frames, bone lengths and label radii of ``mesh`` for the kinematic model."""
    rest = hand._forward_frames(hand.HandShape().to_array(), np.zeros(hand.NUM_POSE_PARAMS))
    axes = np.zeros((NUM_BONES, 3, 3))
    length = np.zeros(NUM_BONES)
    o = mesh.joints
    origin = o.copy()
    for b in range(NUM_BONES):
        if BONE_KIND[b] == _WRIST:
            axes[b], length[b] = np.eye(3), 1.0
            continue
        tip_bone = CHILD[b] < 0
        parent = b - 1 if tip_bone else b
        origin[b] = o[parent]
        direction = o[parent + 1] - o[parent]
        z_ref = np.array([0.0, 0.0, 1.0]) if BONE_KIND[b] == _METACARPAL else rest[BONE_SOURCE[b]][:, 2]
        axes[b] = _orthonormal(direction, z_ref)
        if BONE_END[b] in TIP_JOINTS:
            length[b] = _exit_distance(mesh, o[parent], axes[b][:, 1])
        else:
            length[b] = float(np.linalg.norm(direction))
    middle_distal = CANONICAL_TO_WEBXR[11]
    reference = float(np.linalg.norm(o[middle_distal] + axes[middle_distal][:, 1] * length[middle_distal] - o[0]))
    return Rig(mesh, origin, axes, length, reference, _label_radius(mesh, axes, length))


def _label_radius(mesh: HandMesh, axes: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Flesh around each label point: the 90th percentile distance from a joint centre to its finger's
    surface within 4 mm along the bone; twice the pad radius for fingertips (labelled on the skin, seen
    through the whole fingertip from behind)."""
    dominant = mesh.bones[np.arange(len(mesh.bones)), np.argmax(mesh.weights, axis=1)]
    radius = np.zeros(21)
    radius[0] = WRIST_LABEL_RADIUS
    for j in range(1, 21):
        tip = j in TIP_JOINTS
        b = CANONICAL_TO_WEBXR[j - 1] if tip else CANONICAL_TO_WEBXR[j]
        finger = (j - 1) // 4
        first = 1 if finger == 0 else 5 + 5 * (finger - 1)
        own = (dominant >= first) & (dominant < first + (4 if finger == 0 else 5))
        y = axes[b][:, 1]
        centre = mesh.joints[b] + (y * length[b] * 0.6 if tip else 0.0)
        offset = mesh.vertices[own] - centre
        along = offset @ y
        near = np.abs(along) < 4.0
        across = np.linalg.norm(offset[near] - along[near, None] * y, axis=1)
        r = float(np.percentile(across, 90)) if near.sum() >= 3 else 8.0
        radius[j] = 2.0 * r if tip else r
    return radius


@functools.cache
def rig(side: str = "right") -> Rig:
    """The prepared WebXR generic hand of ``side`` (cached per process)."""
    return build_rig(load_hand_mesh(side))


@_jit
def posed_bones(joints, radius, frames, carpals, shape, kind, source, end, bind_origin, bind_axes, bind_length, ref):
    """Skinning matrices of the posed model, hand frame: ``(25, 3, 4)`` for points, ``(25, 3, 3)`` for
    normals. ``ref`` is the mesh hand length that a scale-1 model hand (185 mm) maps onto."""
    n = kind.shape[0]
    points = np.zeros((n, 3, 4))
    normals = np.zeros((n, 3, 3))
    k = shape[0] * hand.REFERENCE_HAND_LENGTH_MM / ref
    across = k * shape[7]
    for b in range(n):
        scale = np.ones(3)
        if kind[b] == _WRIST:
            origin = np.zeros(3)
            frame = np.eye(3)
            scale[0], scale[1], scale[2] = k * shape[6], k, across
        else:
            origin = carpals[source[b]].copy() if kind[b] == _METACARPAL else joints[source[b]].copy()
            target = joints[end[b]].copy()
            if end[b] % 4 == 0:
                # Distal bones end at the fingertip's skin, the tip joint's inset beyond the tip joint.
                d = target - origin
                d /= np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
                target += d * hand._TIP_INSET * radius[end[b]]
            d = target - origin
            bone_len = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
            if kind[b] == _METACARPAL:
                # Metacarpals are rigid with the palm: their frame follows the hand frame's palmar axis.
                y = d / bone_len
                z = np.array([0.0, 0.0, 1.0])
                z -= (z[0] * y[0] + z[1] * y[1] + z[2] * y[2]) * y
                z /= np.sqrt(z[0] * z[0] + z[1] * z[1] + z[2] * z[2])
                frame = np.empty((3, 3))
                frame[:, 0] = np.cross(y, z)
                frame[:, 1] = y
                frame[:, 2] = z
            else:
                frame = frames[source[b]]
            bone_across = across
            if kind[b] == _SEGMENT:
                # Per-bone thickness factor: finger (j - 1) // 4, bone min((j - 1) % 4, 2).
                j = source[b]
                bone_across *= shape[23 + 3 * ((j - 1) // 4) + min((j - 1) % 4, 2)]
            scale[0], scale[1], scale[2] = bone_across, bone_len / bind_length[b], bone_across
        g = bind_axes[b]
        for i in range(3):
            for j in range(3):
                acc = 0.0
                acc_n = 0.0
                for m in range(3):
                    acc += frame[i, m] * scale[m] * g[j, m]
                    acc_n += frame[i, m] / scale[m] * g[j, m]
                points[b, i, j] = acc
                normals[b, i, j] = acc_n
        for i in range(3):
            points[b, i, 3] = origin[i] - (
                points[b, i, 0] * bind_origin[b, 0]
                + points[b, i, 1] * bind_origin[b, 1]
                + points[b, i, 2] * bind_origin[b, 2]
            )
    return points, normals


@_jit
def skin(points, normals, vertices, vertex_normals, bones, weights, rotation, translation, mirror_x):
    """Blend the bone transforms per vertex and place the result in the camera frame.

    Returns ``(V, 3)`` positions (mm) and ``(V, 3)`` unit normals, camera frame; ``mirror_x = -1`` mirrors
    the right-hand frame into a left hand before ``rotation`` and ``translation``.
    """
    nv = vertices.shape[0]
    out_v = np.empty((nv, 3))
    out_n = np.empty((nv, 3))
    p = np.empty(3)
    q = np.empty(3)
    for i in range(nv):
        for c in range(3):
            p[c] = 0.0
            q[c] = 0.0
        for s in range(bones.shape[1]):
            w = weights[i, s]
            if w == 0.0:
                continue
            b = bones[i, s]
            for c in range(3):
                p[c] += w * (
                    points[b, c, 0] * vertices[i, 0]
                    + points[b, c, 1] * vertices[i, 1]
                    + points[b, c, 2] * vertices[i, 2]
                    + points[b, c, 3]
                )
                q[c] += w * (
                    normals[b, c, 0] * vertex_normals[i, 0]
                    + normals[b, c, 1] * vertex_normals[i, 1]
                    + normals[b, c, 2] * vertex_normals[i, 2]
                )
        p[0] *= mirror_x
        q[0] *= mirror_x
        norm = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]) + 1e-12
        for c in range(3):
            out_v[i, c] = rotation[c, 0] * p[0] + rotation[c, 1] * p[1] + rotation[c, 2] * p[2] + translation[c]
            out_n[i, c] = (rotation[c, 0] * q[0] + rotation[c, 1] * q[1] + rotation[c, 2] * q[2]) / norm
    return out_v, out_n


def bone_transforms(shape: np.ndarray, pose: np.ndarray, side_rig: Rig) -> tuple[np.ndarray, np.ndarray]:
    """Skinning matrices (points, normals) of the model posed by ``shape`` (``HandShape.to_array()``)
    and ``pose`` (radians), hand frame."""
    joints, radius = hand._forward_kinematics(shape, pose)
    frames = hand._forward_frames(shape, pose)
    return posed_bones(
        joints,
        radius,
        frames,
        hand.carpal_points(shape),
        shape,
        BONE_KIND,
        BONE_SOURCE,
        BONE_END,
        side_rig.bind_origin,
        side_rig.bind_axes,
        side_rig.bind_length,
        side_rig.reference_length,
    )


def tip_labels(joints: np.ndarray, radius: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Joints with each fingertip moved from the pad's centre to the skin at the finger's end."""
    out = joints.copy()
    for j in TIP_JOINTS:
        out[j] = joints[j] + frames[j][:, 1] * hand._TIP_INSET * radius[j]
    return out
