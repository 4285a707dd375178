"""The articulated hand: proportions, per-hand shape, pose parameters with limits, forward kinematics, geometry.

:func:`pose_hand` returns the posed hand as capsule primitives or as the skinned mesh of
:mod:`handpose.synth.skin` (which this module's bone frames drive).

Hand frame (right hand; a left hand is its mirror image, ``x -> -x``): origin at the wrist, ``x``
towards the thumb side (radial), ``y`` along the middle finger (distal), ``z = x cross y`` out of the
palm (palmar). Flexion turns a bone about its local ``x`` axis towards ``+z``.

Proportions follow the segment-to-hand-length ratios of Buchholz, Armstrong & Goldstein (1992,
"Anthropometric data for describing the kinematics of the human hand", Ergonomics 35(3)) for a hand
185 mm long (wrist crease to middle fingertip). Distal lengths are shortened by part of the fingertip
radius because the tip joint is the centre of the fingertip sphere. Joint ranges are the usual
active ranges of motion quoted in the hand-tracking literature (e.g. Lin, Wu & Huang 2000,
"Modeling the constraints of human hand motion"), including the coupling DIP ~ 2/3 PIP.

Outputs are in canonical21 order: 0 wrist; 1-4 thumb CMC, MCP, IP, tip; 5-8 index MCP, PIP, DIP, tip;
9-12 middle; 13-16 ring; 17-20 little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

REFERENCE_HAND_LENGTH_MM = 185.0
FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")

# Segment lengths as fractions of hand length (Buchholz et al. 1992): metacarpal/proximal, middle, distal.
_RATIOS = {
    "thumb": (0.251, 0.196, 0.158),
    "index": (0.246, 0.143, 0.097),
    "middle": (0.265, 0.170, 0.108),
    "ring": (0.244, 0.165, 0.107),
    "little": (0.204, 0.117, 0.094),
}
# Joint positions of the rest hand in the hand frame (mm, reference size): thumb CMC and finger MCPs.
# The MCP heads form the transverse arch, so the outer ones sit more palmar (+z).
_BASES = {
    "thumb": (21.0, 27.0, 11.0),
    "index": (23.0, 80.0, 3.0),
    "middle": (3.0, 83.0, 0.0),
    "ring": (-16.0, 79.0, 2.0),
    "little": (-33.0, 70.0, 6.0),
}
# Rest splay of each finger in the palm plane (degrees, positive = towards the thumb side).
_SPLAY_DEG = {"index": 6.0, "middle": 0.0, "ring": -5.0, "little": -12.0}
# Radii (mm) at base, next, next and tip joint of each finger: fingers 15-22 mm thick.
_RADII = {
    "thumb": (12.0, 10.0, 9.0, 8.0),
    "index": (10.5, 9.0, 7.8, 6.8),
    "middle": (11.0, 9.5, 8.2, 7.2),
    "ring": (10.5, 9.0, 7.8, 6.8),
    "little": (9.5, 8.0, 7.0, 6.2),
}
_TIP_INSET = 0.5  # the tip joint sits this fraction of the tip radius inside the distal length
_WRIST_RADIUS = 19.0
FOREARM_LENGTH_MM = 260.0

# Pose parameters (degrees in the limit tables; radians in the vectors). Layout:
#   0-3 thumb: CMC flexion (across the palm), CMC abduction (out of the palm plane), MCP flexion, IP flexion
#   4-7 index, 8-11 middle, 12-15 ring, 16-19 little: MCP flexion, MCP spread (away from the middle
#       finger; towards the thumb for the middle finger), PIP flexion, DIP flexion
#   20-21 wrist flexion (palmar positive), wrist deviation (radial positive)
NUM_POSE_PARAMS = 22
POSE_PARAM_NAMES = (
    "thumb_cmc_flex",
    "thumb_cmc_abd",
    "thumb_mcp_flex",
    "thumb_ip_flex",
    *(f"{f}_{p}" for f in FINGER_NAMES[1:] for p in ("mcp_flex", "mcp_spread", "pip_flex", "dip_flex")),
    "wrist_flex",
    "wrist_dev",
)
_LIMITS_DEG = {
    "thumb": ((-15.0, 50.0), (-10.0, 60.0), (-10.0, 55.0), (-15.0, 80.0)),
    "index": ((-20.0, 90.0), (-15.0, 20.0), (0.0, 110.0), (-5.0, 80.0)),
    "middle": ((-20.0, 90.0), (-15.0, 15.0), (0.0, 110.0), (-5.0, 80.0)),
    "ring": ((-20.0, 90.0), (-15.0, 20.0), (0.0, 110.0), (-5.0, 80.0)),
    "little": ((-20.0, 90.0), (-15.0, 30.0), (0.0, 110.0), (-5.0, 80.0)),
    "wrist": ((-50.0, 60.0), (-25.0, 15.0)),
}
LIMITS_DEG = np.array([lim for name in (*FINGER_NAMES, "wrist") for lim in _LIMITS_DEG[name]], dtype=float)
LOWER = np.radians(LIMITS_DEG[:, 0])
UPPER = np.radians(LIMITS_DEG[:, 1])
DIP_PIP_RATIO = 2.0 / 3.0


# Adult hand length (wrist crease to middle fingertip) and hand breadth, British adults aged 19-65
# (Pheasant & Haslegrave 2006, "Bodyspace", 3rd ed., anthropometric tables): mean and SD in mm.
HAND_LENGTH_MM = {"male": (189.0, 10.0), "female": (174.0, 9.0)}
HAND_BREADTH_MM = {"male": (85.0, 5.0), "female": (75.0, 4.0)}
# Index-to-ring finger length ratio (2D:4D; Manning et al. 1998, Human Reproduction 13(11)).
DIGIT_RATIO = {"male": 0.98, "female": 1.00}
_REFERENCE_BREADTH_RATIO = 0.44  # breadth / length of the reference hand's palm
NUM_BONES = 15  # three per finger, thumb first
SHAPE_SIZE = 8 + 2 * NUM_BONES + 1


def _clipped_normal(z: np.ndarray, sd: float, limit: float = 2.5) -> np.ndarray:
    return 1.0 + sd * np.clip(z, -limit, limit)


@dataclass(frozen=True)
class HandShape:
    """Per-hand shape: overall scale, finger and bone length factors, palm width and thickness factors.

    Attributes:
        scale: Hand length / 185 mm (adult hands: about 0.82-1.16).
        finger_lengths: Five length factors (thumb..little), about 0.92-1.08.
        palm_width: Palm width factor.
        thickness: Radius factor of every part.
        bone_lengths: Fifteen length factors, three per finger (thumb first; proximal to distal).
        bone_thickness: Fifteen radius factors, same order.
        female: Proportions drawn for a woman's hand (else a man's).
    """

    scale: float = 1.0
    finger_lengths: tuple[float, ...] = (1.0,) * 5
    palm_width: float = 1.0
    thickness: float = 1.0
    bone_lengths: tuple[float, ...] = (1.0,) * NUM_BONES
    bone_thickness: tuple[float, ...] = (1.0,) * NUM_BONES
    female: bool = False

    def to_array(self) -> np.ndarray:
        """``(SHAPE_SIZE,)``: scale, 5 finger lengths, palm width, thickness, 15 bone lengths, 15 bone
        thickness factors, 1 for a woman's hand (0 for a man's)."""
        return np.array(
            [
                self.scale,
                *self.finger_lengths,
                self.palm_width,
                self.thickness,
                *self.bone_lengths,
                *self.bone_thickness,
                float(self.female),
            ],
            dtype=np.float64,
        )

    @classmethod
    def sample(cls, rng: np.random.Generator) -> HandShape:
        """An adult hand: sex at even odds, hand length and breadth from that sex's distribution
        (``HAND_LENGTH_MM``, ``HAND_BREADTH_MM``, within 2.5 SD), its index-to-ring ratio, and small
        independent variations of every finger and bone."""
        z = rng.standard_normal(4 + 5 + 2 * NUM_BONES)  # one draw for every parameter
        female = bool(z[0] > 0.0)
        sex = "female" if female else "male"
        mean, sd = HAND_LENGTH_MM[sex]
        length = mean + sd * float(np.clip(z[1], -2.5, 2.5))
        breadth_mean, breadth_sd = HAND_BREADTH_MM[sex]
        breadth = breadth_mean / mean * length + breadth_sd * 0.6 * float(np.clip(z[2], -2.5, 2.5))
        fingers = _clipped_normal(z[4:9], 0.03)
        # Index and ring lengths differ between the sexes by the ratio of their 2D:4D means (applied to
        # the reference hand, whose own ratio stands for the mean of both, 0.99).
        ratio = np.sqrt(DIGIT_RATIO[sex] / 0.99)
        fingers[1] *= ratio
        fingers[3] /= ratio
        return cls(
            scale=length / REFERENCE_HAND_LENGTH_MM,
            finger_lengths=tuple(float(x) for x in fingers),
            palm_width=breadth / length / _REFERENCE_BREADTH_RATIO,
            thickness=float(_clipped_normal(z[3:4], 0.05)[0]) * (0.96 if female else 1.02),
            bone_lengths=tuple(float(x) for x in _clipped_normal(z[9 : 9 + NUM_BONES], 0.025)),
            bone_thickness=tuple(float(x) for x in _clipped_normal(z[9 + NUM_BONES :], 0.04)),
            female=female,
        )


_FINGER_ORDER = FINGER_NAMES
_BASE_TABLE = np.array([_BASES[n] for n in _FINGER_ORDER])
_RATIO_TABLE = np.array([_RATIOS[n] for n in _FINGER_ORDER])
_RADIUS_TABLE = np.array([_RADII[n] for n in _FINGER_ORDER])
_SPLAY_TABLE = np.radians(np.array([0.0] + [_SPLAY_DEG[n] for n in _FINGER_ORDER[1:]]))
# Spread is "away from the middle finger" (towards the thumb for the middle finger itself); +x is radial.
_SPREAD_SIGN = np.array([0.0, 1.0, 1.0, -1.0, -1.0])
_CARPAL = np.array([[13.0, 24.0, 4.0], [3.0, 24.0, 2.0], [-8.0, 24.0, 3.0], [-18.0, 24.0, 6.0]])
_MCP_HEAD_RADIUS = np.array([10.5, 11.0, 10.5, 9.5])
NUM_HAND_PRIMITIVES = 26

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def _mm(a, b):
    """3x3 matrix product without BLAS (numba's ``@`` calls BLAS: slow to compile, slow for 3x3)."""
    out = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            out[i, j] = a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + a[i, 2] * b[2, j]
    return out


@_jit
def _mv(a, v):
    """3x3 matrix times 3-vector without BLAS."""
    return np.array(
        [
            a[0, 0] * v[0] + a[0, 1] * v[1] + a[0, 2] * v[2],
            a[1, 0] * v[0] + a[1, 1] * v[1] + a[1, 2] * v[2],
            a[2, 0] * v[0] + a[2, 1] * v[1] + a[2, 2] * v[2],
        ]
    )


@_jit
def _mat3(a00, a01, a02, a10, a11, a12, a20, a21, a22):
    # Element-wise construction compiles much faster in numba than nested-list np.array literals.
    m = np.empty((3, 3))
    m[0, 0], m[0, 1], m[0, 2] = a00, a01, a02
    m[1, 0], m[1, 1], m[1, 2] = a10, a11, a12
    m[2, 0], m[2, 1], m[2, 2] = a20, a21, a22
    return m


@_jit
def _rot_x(angle):
    c, s = np.cos(angle), np.sin(angle)
    return _mat3(1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c)


@_jit
def _rot_z(angle):
    # Positive angles turn +y towards -x; for spreads we want +x (radial) for positive values, so
    # callers negate.
    c, s = np.cos(angle), np.sin(angle)
    return _mat3(c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


@_jit
def _axis_angle(axis, angle):
    n = np.sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2])
    x, y, z = axis[0] / n, axis[1] / n, axis[2] / n
    k = _mat3(0.0, -z, y, z, 0.0, -x, -y, x, 0.0)
    kk = _mm(k, k)
    sin, cos1 = np.sin(angle), 1.0 - np.cos(angle)
    out = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            out[i, j] = (1.0 if i == j else 0.0) + sin * k[i, j] + cos1 * kk[i, j]
    return out


def _thumb_rest_frame() -> tuple[np.ndarray, np.ndarray]:
    # The thumb metacarpal points distally, radially and out of the palm; its pulp faces the palm.
    y = np.array([0.62, 0.72, 0.32])
    y /= np.linalg.norm(y)
    z = np.array([-0.55, 0.0, 0.85])
    z -= (z @ y) * y
    z /= np.linalg.norm(z)
    frame = np.stack([np.cross(y, z), y, z], axis=1)
    abd_axis = np.cross(y, np.array([0.0, 0.0, 1.0]))
    return frame, abd_axis / np.linalg.norm(abd_axis)


_THUMB_FRAME, _THUMB_ABD_AXIS = _thumb_rest_frame()


@_jit
def _forward_kinematics(shape, pose):
    """Right-hand joints (21, 3) and radii (21,) in the hand frame; ``shape`` is ``HandShape.to_array()``."""
    s, palm_width, thick = shape[0], shape[6], shape[7]
    joints = np.zeros((21, 3))
    radius = np.zeros(21)
    radius[0] = _WRIST_RADIUS * s * thick
    hand_len = REFERENCE_HAND_LENGTH_MM * s
    for f in range(5):
        first = 1 + 4 * f
        base = _BASE_TABLE[f] * s
        base[0] *= palm_width
        lengths = _RATIO_TABLE[f] * (hand_len * shape[1 + f]) * shape[8 + 3 * f : 11 + 3 * f]
        radii = _RADIUS_TABLE[f] * (s * thick)
        for i in range(4):
            radii[i] *= shape[23 + 3 * f + min(i, 2)]
        lengths[2] -= _TIP_INSET * radii[3]
        if f == 0:
            frame = _mm(_mm(_rot_z(pose[0]), _axis_angle(_THUMB_ABD_AXIS, pose[1])), _THUMB_FRAME)
        else:
            frame = _mm(_rot_z(-_SPLAY_TABLE[f] - _SPREAD_SIGN[f] * pose[4 * f + 1]), _rot_x(pose[4 * f]))
        joints[first] = base
        point = base.copy()
        for seg in range(3):
            point = point + frame[:, 1] * lengths[seg]
            joints[first + seg + 1] = point
            if seg < 2:
                frame = _mm(frame, _rot_x(pose[4 * f + 2 + seg]))
        radius[first : first + 4] = radii
    return joints, radius


@_jit
def _forward_frames(shape, pose):
    """Bone frames of the right hand: ``(21, 3, 3)``, frame ``j`` (columns x, y, z; ``y`` along the
    bone) of the bone that starts at joint ``j``; a tip joint gets its distal bone's frame, the wrist
    the hand frame. Same kinematics as :func:`_forward_kinematics`."""
    frames = np.zeros((21, 3, 3))
    frames[0] = np.eye(3)
    for f in range(5):
        first = 1 + 4 * f
        if f == 0:
            frame = _mm(_mm(_rot_z(pose[0]), _axis_angle(_THUMB_ABD_AXIS, pose[1])), _THUMB_FRAME)
        else:
            frame = _mm(_rot_z(-_SPLAY_TABLE[f] - _SPREAD_SIGN[f] * pose[4 * f + 1]), _rot_x(pose[4 * f]))
        for seg in range(3):
            frames[first + seg] = frame
            if seg < 2:
                frame = _mm(frame, _rot_x(pose[4 * f + 2 + seg]))
        frames[first + 3] = frames[first + 2]
    return frames


@_jit
def carpal_points(shape):
    """``(4, 3)`` bases of the index..little metacarpals in the carpus (hand frame, mm)."""
    out = _CARPAL * shape[0]
    for i in range(4):
        out[i, 0] *= shape[6]
    return out


@_jit
def _forearm_axis_local(pose):
    # Flexing the wrist turns the hand palmar relative to the forearm: the forearm turns the other way.
    return _mv(_mm(_rot_z(pose[21]), _rot_x(-pose[20])), np.array([0.0, -1.0, 0.0]))


@_jit
def _place(p, rotation, mirror, translation):
    return _mv(rotation, p * mirror) + translation


@_jit
def _cone_row(rows, i, a, b, ra, rb):
    rows[i, 0] = 0.0  # raycast.CONE
    rows[i, 1] = 1.0  # raycast.LAYER_HAND
    rows[i, 6:9] = a
    rows[i, 9:12] = b
    rows[i, 12] = ra
    rows[i, 13] = rb


@_jit
def _hand_rows(joints, radius, shape, pose, rotation, translation, mirror_x):
    """Ray-caster rows of the posed hand: 15 phalanges, 9 palm pieces, 2 forearm capsules."""
    s, pw, th = shape[0], shape[6], shape[7]
    mirror = np.array([mirror_x, 1.0, 1.0])
    rows = np.zeros((NUM_HAND_PRIMITIVES, 21))
    n = 0

    for f in range(5):
        for seg in range(3):
            a = 1 + 4 * f + seg
            _cone_row(
                rows,
                n,
                _place(joints[a], rotation, mirror, translation),
                _place(joints[a + 1], rotation, mirror, translation),
                radius[a],
                radius[a + 1],
            )
            n += 1
    # Metacarpals: from the carpus to each MCP head, thick enough to give the palm its ~30 mm depth.
    for i in range(4):
        carpal = _CARPAL[i] * s
        carpal[0] *= pw
        _cone_row(
            rows,
            n,
            _place(carpal, rotation, mirror, translation),
            _place(joints[5 + 4 * i], rotation, mirror, translation),
            13.0 * s * th,
            _MCP_HEAD_RADIUS[i] * s * th,
        )
        n += 1
    # Knuckle bar: fills the valleys between the metacarpal heads.
    off = np.array([0.0, -6.0 * s, 1.5 * s])
    _cone_row(
        rows,
        n,
        _place(joints[5] + off, rotation, mirror, translation),
        _place(joints[17] + off, rotation, mirror, translation),
        10.0 * s * th,
        9.0 * s * th,
    )
    n += 1
    # Palm slab: an ellipsoid across the middle of the palm.
    centre = np.array([-4.0 * pw, 50.0, 3.5]) * s
    radii = np.array([36.0 * pw, 32.0, 13.5 * th]) * s
    c = _place(centre, rotation, mirror, translation)
    axes = rotation * mirror[None, :]
    to_unit = (axes / radii[None, :]).T
    rows[n, 0] = 1.0  # raycast.ELLIPSOID
    rows[n, 1] = 1.0
    rows[n, 2:5] = c
    rows[n, 5] = radii.max()
    rows[n, 6:9] = c
    rows[n, 9:18] = to_unit.ravel()
    n += 1
    # Carpus (heel of the hand), thenar eminence along the thumb metacarpal, hypothenar on the little side.
    _cone_row(
        rows,
        n,
        _place(np.array([14.0 * pw, 12.0, 4.0]) * s, rotation, mirror, translation),
        _place(np.array([-14.0 * pw, 12.0, 4.0]) * s, rotation, mirror, translation),
        17.0 * s * th,
        16.0 * s * th,
    )
    n += 1
    thenar_end = joints[1] + 0.6 * (joints[2] - joints[1])
    _cone_row(
        rows,
        n,
        _place(np.array([8.0 * pw, 22.0, 8.0]) * s, rotation, mirror, translation),
        _place(thenar_end, rotation, mirror, translation),
        14.0 * s * th,
        11.0 * s * th,
    )
    n += 1
    _cone_row(
        rows,
        n,
        _place(np.array([-20.0 * pw, 24.0, 8.0]) * s, rotation, mirror, translation),
        _place(np.array([-28.0 * pw, 58.0, 7.0]) * s, rotation, mirror, translation),
        12.0 * s * th,
        10.5 * s * th,
    )
    n += 1
    # Forearm: two capsules side by side give the flattened wrist section (about 60 x 38 mm).
    axis = _forearm_axis_local(pose)
    side = _mv(_rot_z(pose[21]), np.array([1.0, 0.0, 0.0]))
    for k in range(2):
        offset = -1.0 if k == 0 else 1.0
        start = side * offset * 11.0 * s + np.array([0.0, 2.0, 2.0]) * s
        _cone_row(
            rows,
            n,
            _place(start, rotation, mirror, translation),
            _place(start + axis * FOREARM_LENGTH_MM * s, rotation, mirror, translation),
            _WRIST_RADIUS * s * th,
            27.0 * s * th,
        )
        n += 1
    return rows


HAND_MODELS = ("mesh", "capsule")


@dataclass
class HandGeometry:
    """One posed hand in camera space.

    Attributes:
        joints: ``(21, 3)`` canonical21 joint labels, mm (mesh hands: fingertips on the skin).
        joint_radius: ``(21,)`` flesh around each label point, mm: the capsule sphere radius of each
            joint, or (mesh hands) the label radius used for visibility.
        primitives: Ray-caster rows (:mod:`handpose.synth.raycast`): every part of a capsule hand, the
            forearm of a mesh hand.
        model: ``"capsule"`` or ``"mesh"``.
        vertices: ``(V, 3)`` skinned mesh vertices, camera mm (mesh hands; else None).
        normals: ``(V, 3)`` unit vertex normals, camera frame (mesh hands).
        triangles: ``(T, 3)`` int32 vertex indices (mesh hands).
    """

    joints: np.ndarray
    joint_radius: np.ndarray
    primitives: np.ndarray
    model: str = "capsule"
    vertices: np.ndarray | None = None
    normals: np.ndarray | None = None
    triangles: np.ndarray | None = None


def local_joints(shape: HandShape, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics of a right hand in the hand frame.

    Args:
        shape: Hand shape.
        pose: ``(22,)`` pose parameters in radians (see ``POSE_PARAM_NAMES``).

    Returns:
        ``(21, 3)`` joints in mm and ``(21,)`` joint radii in mm.
    """
    return _forward_kinematics(shape.to_array(), np.asarray(pose, dtype=np.float64))


def pose_hand(
    shape: HandShape,
    pose: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    side: str = "right",
    kinematics: tuple[np.ndarray, np.ndarray] | None = None,
    model: str = "capsule",
) -> HandGeometry:
    """Posed hand in camera space: ``x_cam = rotation @ mirror(x_hand) + translation``.

    Args:
        shape: Hand shape.
        pose: ``(22,)`` pose parameters, radians.
        rotation: ``(3, 3)`` hand-to-camera rotation.
        translation: ``(3,)`` wrist position in camera space, mm.
        side: ``"right"`` or ``"left"``; a left hand mirrors the right hand's frame (``x -> -x``).
        kinematics: ``local_joints(shape, pose)`` if already computed.
        model: ``"capsule"`` (rounded cones and ellipsoids) or ``"mesh"`` (the skinned WebXR hand mesh
            with the capsule forearm).

    Returns:
        Joints, joint radii and renderable primitives (and the mesh).
    """
    shape_vec = shape.to_array()
    pose = np.asarray(pose, dtype=np.float64)
    R = np.ascontiguousarray(rotation, dtype=np.float64)
    t = np.asarray(translation, dtype=np.float64)
    mirror_x = -1.0 if side == "left" else 1.0
    joints, radius = kinematics if kinematics is not None else _forward_kinematics(shape_vec, pose)
    rows = _hand_rows(joints, radius, shape_vec, pose, R, t, mirror_x)
    mirror = np.array([mirror_x, 1.0, 1.0])
    if model == "capsule":
        return HandGeometry((joints * mirror) @ R.T + t, radius, rows)
    from handpose.synth import skin

    side_rig = skin.rig(side)
    points, normals = skin.bone_transforms(shape_vec, pose, side_rig)
    mesh = side_rig.mesh
    vertices, vertex_normals = skin.skin(
        points, normals, mesh.vertices, mesh.normals, mesh.bones, mesh.weights, R, t, mirror_x
    )
    labels = skin.tip_labels(joints, radius, _forward_frames(shape_vec, pose))
    across = shape.scale * shape.thickness * REFERENCE_HAND_LENGTH_MM / side_rig.reference_length
    label_radius = side_rig.label_radius * across
    label_radius[0] = side_rig.label_radius[0] * shape.scale * shape.thickness
    bone = np.arange(20)
    label_radius[1:] *= shape_vec[23 + 3 * (bone // 4) + np.minimum(bone % 4, 2)]
    forearm = np.ascontiguousarray(rows[-2:])
    return HandGeometry(
        (labels * mirror) @ R.T + t, label_radius, forearm, "mesh", vertices, vertex_normals, mesh.triangles
    )


def forearm_direction(pose: np.ndarray, rotation: np.ndarray, side: str = "right") -> np.ndarray:
    """Unit direction from the wrist along the forearm, camera frame."""
    axis = _forearm_axis_local(np.asarray(pose, dtype=np.float64))
    if side == "left":
        axis = axis * np.array([-1.0, 1.0, 1.0])
    return np.asarray(rotation) @ axis
