"""The WebXR generic hand mesh: read from the shipped glTF files and expressed in the hand frame.

The two ``.glb`` files (``assets/webxr_generic_hand``, MIT; provenance and SHA-256 there) are read with
pygltflib. Each holds one skinned mesh (1360 vertices, 2314 triangles) and a 25-joint skin whose
joints carry the WebXR hand joint names. :func:`load_hand_mesh` returns the mesh of one side in the
engine's right-hand frame (origin at the wrist joint, ``x`` radial, ``y`` along the middle finger,
``z`` palmar, millimetres): the left file is mirrored (``x -> -x``) into it, so both sides share the
engine's mirroring of left hands.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from importlib import resources

import numpy as np

from handpose.errors import HandposeError

ASSET_PACKAGE = "handpose.synth.assets.webxr_generic_hand"
FINGERS = ("thumb", "index-finger", "middle-finger", "ring-finger", "pinky-finger")
_FINGER_BONES = ("metacarpal", "phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip")
_THUMB_BONES = ("metacarpal", "phalanx-proximal", "phalanx-distal", "tip")
# The 25 WebXR joints in the order the engine uses: wrist, thumb (4), then 5 per finger.
JOINT_NAMES = (
    "wrist",
    *(f"thumb-{b}" for b in _THUMB_BONES),
    *(f"{f}-{b}" for f in FINGERS[1:] for b in _FINGER_BONES),
)
NUM_BONES = len(JOINT_NAMES)
# canonical21 joint -> WebXR joint (the finger metacarpal joints sit in the carpus and have no label).
CANONICAL_TO_WEBXR = np.array(
    [0, 1, 2, 3, 4, *(j for f in range(4) for j in range(6 + 5 * f, 10 + 5 * f))], dtype=np.int64
)
# WebXR joint -> the bone it rotates with towards its child (tips have none: -1).
CHILD = np.array(
    [-1, 2, 3, 4, -1, *(c for f in range(4) for c in (6 + 5 * f, 7 + 5 * f, 8 + 5 * f, 9 + 5 * f, -1))],
    dtype=np.int64,
)

_COMPONENTS = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass(frozen=True)
class HandMesh:
    """A skinned hand mesh in the right-hand frame (mm).

    Attributes:
        vertices: ``(V, 3)`` bind-pose positions.
        normals: ``(V, 3)`` unit bind-pose normals.
        triangles: ``(T, 3)`` int32 vertex indices, counter-clockwise seen from outside.
        bones: ``(V, 4)`` int64 indices into :data:`JOINT_NAMES`.
        weights: ``(V, 4)`` skinning weights summing to 1.
        joints: ``(25, 3)`` bind-pose joint positions in :data:`JOINT_NAMES` order.
        bind_frames: ``(25, 3, 3)`` bind-pose bone frames as given by the file (columns: the joint's
            local axes in the hand frame).
        source: File it was read from.
    """

    vertices: np.ndarray
    normals: np.ndarray
    triangles: np.ndarray
    bones: np.ndarray
    weights: np.ndarray
    joints: np.ndarray
    bind_frames: np.ndarray
    source: str


def _accessor(gltf, blob: bytes, index: int, source: str) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = _COMPONENTS.get(acc.componentType)
    width = _WIDTH.get(acc.type)
    if dtype is None or width is None:
        raise HandposeError(f"accessor {index}: unsupported component type or shape", source)
    if view.byteStride not in (None, 0, width * np.dtype(dtype).itemsize):
        raise HandposeError(f"accessor {index}: interleaved buffers are not supported", source)
    offset = (view.byteOffset or 0) + (acc.byteOffset or 0)
    data = np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=offset)
    return data.reshape(acc.count, width) if width > 1 else data


def _hand_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin and rows-as-axes rotation of the hand frame from the file's joint positions."""
    wrist = joints[0]
    index_mcp = joints[JOINT_NAMES.index("index-finger-phalanx-proximal")]
    middle_mcp = joints[JOINT_NAMES.index("middle-finger-phalanx-proximal")]
    little_mcp = joints[JOINT_NAMES.index("pinky-finger-phalanx-proximal")]
    y = middle_mcp - wrist
    y /= np.linalg.norm(y)
    x = index_mcp - little_mcp
    x -= (x @ y) * y
    x /= np.linalg.norm(x)
    return wrist, np.stack([x, y, np.cross(x, y)])


def read_glb(path: str, side: str) -> HandMesh:
    """Read one WebXR hand ``.glb`` and express it in the right-hand frame (left files are mirrored).

    Raises:
        HandposeError: The file is not a skinned hand with the 25 WebXR joints.
    """
    import pygltflib

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pygltflib warns, then fails, on files that are not glTF 2
            gltf = pygltflib.GLTF2().load(path)
    except Exception as exc:  # pygltflib raises assorted errors for a broken file
        raise HandposeError(f"unreadable glTF file: {exc}", path) from None
    blob = gltf.binary_blob()
    if gltf is None or blob is None or len(gltf.meshes) != 1 or len(gltf.skins) != 1:
        raise HandposeError("expected a binary glTF with one mesh and one skin", path)
    prim = gltf.meshes[0].primitives[0]
    attrs = prim.attributes
    if None in (attrs.POSITION, attrs.NORMAL, attrs.JOINTS_0, attrs.WEIGHTS_0, prim.indices):
        raise HandposeError("the mesh lacks positions, normals, joints, weights or indices", path)
    skin = gltf.skins[0]
    names = [gltf.nodes[j].name for j in skin.joints]
    try:
        order = np.array([names.index(n) for n in JOINT_NAMES])
    except ValueError as exc:
        raise HandposeError(f"the skin lacks a WebXR hand joint ({exc})", path) from None
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(NUM_BONES)
    ibm = _accessor(gltf, blob, skin.inverseBindMatrices, path).reshape(-1, 4, 4).transpose(0, 2, 1)
    bind = np.linalg.inv(ibm.astype(np.float64))[order]  # glTF matrices are column-major
    positions = _accessor(gltf, blob, attrs.POSITION, path).astype(np.float64) * 1000.0
    normals = _accessor(gltf, blob, attrs.NORMAL, path).astype(np.float64)
    bones = remap[_accessor(gltf, blob, attrs.JOINTS_0, path).astype(np.int64)]
    weights = _accessor(gltf, blob, attrs.WEIGHTS_0, path).astype(np.float64)
    triangles = _accessor(gltf, blob, prim.indices, path).astype(np.int32).reshape(-1, 3)
    joints = bind[:, :3, 3] * 1000.0
    frames = bind[:, :3, :3]
    if side == "left":
        # Mirror into a right hand; mirroring flips the winding, so swap two corners back.
        flip = np.array([-1.0, 1.0, 1.0])
        positions, normals, joints = positions * flip, normals * flip, joints * flip
        frames = frames * flip[None, :, None]
        triangles = triangles[:, [0, 2, 1]]
    origin, axes = _hand_frame(joints)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return HandMesh(
        vertices=np.ascontiguousarray((positions - origin) @ axes.T),
        normals=np.ascontiguousarray(normals @ axes.T),
        triangles=np.ascontiguousarray(triangles),
        bones=np.ascontiguousarray(bones),
        weights=np.ascontiguousarray(weights),
        joints=np.ascontiguousarray((joints - origin) @ axes.T),
        bind_frames=np.ascontiguousarray(np.einsum("ij,bjk->bik", axes, frames)),
        source=path,
    )


@functools.cache
def load_hand_mesh(side: str = "right") -> HandMesh:
    """The shipped WebXR generic hand of ``side`` (``"right"`` or ``"left"``), cached per process."""
    if side not in ("right", "left"):
        raise HandposeError(f"unknown hand side {side!r}; expected right or left")
    with resources.as_file(resources.files(ASSET_PACKAGE) / f"{side}.glb") as path:
        return read_glb(str(path), side)
