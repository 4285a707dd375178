"""Pose sampling: articulation (uniform within limits or gesture/grasp synergies), view and placement.

Articulation mixes poses drawn uniformly inside the joint limits with postures people actually make
(open hand, fist, pointing, pinch, OK sign, counting one to five, ball/cylinder grasps, ...), each
jittered and sometimes blended with another one, then clipped to the limits. DIP flexion always
follows the PIP coupling ``DIP ~ 2/3 PIP`` (with a few degrees of slack).

Views are uniformly random rotations, except that the forearm never points steeply at the camera
(the person holding the hand is behind it). Placements keep every joint inside the image with the
wrist-to-knuckle centre at 200-900 mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from handpose.geometry import Camera
from handpose.synth import hand

_D = np.radians


def _posture(thumb: tuple, fingers: dict[str, tuple], wrist: tuple = (0.0, 0.0)) -> np.ndarray:
    """Pose vector in degrees from a thumb tuple (4) and (mcp, spread, pip) per finger; DIP is coupled."""
    p = np.zeros(hand.NUM_POSE_PARAMS)
    p[0:4] = thumb
    for f, name in enumerate(hand.FINGER_NAMES[1:], start=1):
        mcp, spread, pip = fingers.get(name, (0.0, 0.0, 0.0))
        p[4 * f : 4 * f + 4] = (mcp, spread, pip, hand.DIP_PIP_RATIO * pip)
    p[20:22] = wrist
    return p


_OPEN = (0.0, 5.0, 0.0)
_CURLED = (85.0, 0.0, 100.0)
_ALL = ("index", "middle", "ring", "little")


def _fingers(extended: tuple[str, ...], curl: tuple = _CURLED, straight: tuple = _OPEN) -> dict[str, tuple]:
    return {n: (straight if n in extended else curl) for n in _ALL}


_THUMB_OUT = (-5.0, 20.0, 0.0, 0.0)
_THUMB_TUCKED = (40.0, 25.0, 45.0, 45.0)

SYNERGIES: dict[str, np.ndarray] = {
    "open": _posture(_THUMB_OUT, _fingers(_ALL)),
    "spread": _posture((-10.0, 10.0, 0.0, -5.0), dict.fromkeys(_ALL, (0.0, 18.0, 0.0))),
    "relaxed": _posture((10.0, 25.0, 15.0, 15.0), dict.fromkeys(_ALL, (25.0, 0.0, 35.0))),
    "fist": _posture(_THUMB_TUCKED, _fingers(())),
    "point": _posture(_THUMB_TUCKED, _fingers(("index",))),
    "victory": _posture(_THUMB_TUCKED, {**_fingers(("index", "middle")), "index": (0, 15, 0), "middle": (0, 12, 0)}),
    "three": _posture(_THUMB_TUCKED, _fingers(("index", "middle", "ring"))),
    "four": _posture(_THUMB_TUCKED, _fingers(_ALL)),
    "thumbs_up": _posture((-10.0, 15.0, 0.0, 0.0), _fingers(())),
    "call": _posture((-10.0, 15.0, 0.0, 0.0), _fingers(("little",))),
    "rock": _posture(_THUMB_TUCKED, _fingers(("index", "little"))),
    "pinch": _posture(
        (25.0, 45.0, 20.0, 25.0), {"index": (45.0, 0.0, 55.0), **dict.fromkeys(_ALL[1:], (20.0, 0.0, 25.0))}
    ),
    "ok": _posture((25.0, 45.0, 20.0, 25.0), {"index": (50.0, 0.0, 60.0), **dict.fromkeys(_ALL[1:], (5.0, 8.0, 5.0))}),
    "ball_grasp": _posture((20.0, 50.0, 15.0, 15.0), dict.fromkeys(_ALL, (40.0, 10.0, 45.0))),
    "cylinder_grasp": _posture((35.0, 45.0, 25.0, 25.0), dict.fromkeys(_ALL, (60.0, 0.0, 70.0))),
    "hook": _posture(_THUMB_OUT, dict.fromkeys(_ALL, (0.0, 0.0, 90.0))),
    "claw": _posture((15.0, 35.0, 25.0, 30.0), dict.fromkeys(_ALL, (-10.0, 8.0, 80.0))),
    "flat_bent": _posture(_THUMB_OUT, dict.fromkeys(_ALL, (80.0, 0.0, 0.0))),
}
SYNERGY_NAMES = tuple(SYNERGIES)
GRASPS = ("ball_grasp", "cylinder_grasp")


_PIP = np.array([6, 10, 14, 18])
_DIP = _PIP + 1


def clip_pose(pose: np.ndarray) -> np.ndarray:
    """Clip radians to the joint limits."""
    return np.clip(pose, hand.LOWER, hand.UPPER)


def couple_dip(pose: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Set every DIP to ``2/3 PIP + slack`` (radians), then clip to limits."""
    out = pose.copy()
    out[_DIP] = hand.DIP_PIP_RATIO * out[_PIP] + slack
    return clip_pose(out)


def sample_articulation(rng: np.random.Generator, synergy: str = "uniform", blend_prob: float = 0.3) -> np.ndarray:
    """One ``(22,)`` pose in radians, inside the joint limits with the DIP-PIP coupling.

    Args:
        rng: Random generator.
        synergy: ``"uniform"`` for a pose drawn uniformly within the limits, else a name from
            ``SYNERGY_NAMES``, jittered by about 9 degrees per parameter.
        blend_prob: Probability of blending the synergy with a random other one (up to 50 %).
    """
    slack = rng.normal(0.0, _D(4.0), 4)
    if synergy == "uniform":
        pose = rng.uniform(hand.LOWER, hand.UPPER)
        # Wrist poses far from neutral are rare; keep them mostly moderate.
        pose[20:22] *= 0.6
        return couple_dip(pose, slack)
    pose = SYNERGIES[synergy].copy()
    if rng.random() < blend_prob:
        other = SYNERGIES[SYNERGY_NAMES[rng.integers(len(SYNERGY_NAMES))]]
        w = rng.uniform(0.0, 0.5)
        pose = (1.0 - w) * pose + w * other
    pose = _D(pose) + rng.normal(0.0, _D(9.0), hand.NUM_POSE_PARAMS)
    pose[20:22] = rng.uniform(_D(-35.0), _D(35.0), 2) * np.array([1.0, 0.6])
    return couple_dip(clip_pose(pose), slack)


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of the (not necessarily unit) quaternion ``(w, x, y, z)``."""
    w, x, y, z = (q / np.sqrt(q @ q)).tolist()  # Python floats: faster than numpy scalars here
    return np.array(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ]
    ).reshape(3, 3)  # fmt: skip


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation matrix (from a normally distributed quaternion)."""
    return quaternion_matrix(rng.normal(size=4))


@dataclass
class HandState:
    """Everything that fixes one hand in camera space.

    Attributes:
        shape: Hand shape.
        pose: ``(22,)`` articulation, radians.
        rotation: ``(3, 3)`` hand-to-camera rotation.
        translation: ``(3,)`` wrist position, camera mm.
        side: ``"right"`` or ``"left"``.
        synergy: Name of the posture it was drawn from (``"uniform"`` for uniform poses).
        kinematics: ``hand.local_joints(shape, pose)`` if already computed.
        model: ``"mesh"`` (skinned mesh) or ``"capsule"`` (rounded cones).
    """

    shape: hand.HandShape
    pose: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    side: str
    synergy: str = "uniform"
    kinematics: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    model: str = "mesh"

    def geometry(self) -> hand.HandGeometry:
        return hand.pose_hand(
            self.shape, self.pose, self.rotation, self.translation, self.side, self.kinematics, self.model
        )


def sample_view(rng: np.random.Generator, pose: np.ndarray, side: str) -> np.ndarray:
    """A random rotation whose forearm does not point steeply towards the camera."""
    for _ in range(20):
        R = random_rotation(rng)
        if hand.forearm_direction(pose, R, side)[2] > -0.35:
            return R
    return R


def place_in_view(
    rng: np.random.Generator,
    shape: hand.HandShape,
    pose: np.ndarray,
    rotation: np.ndarray,
    side: str,
    camera: Camera,
    depth_range: tuple[float, float] = (200.0, 900.0),
    margin_px: float = 3.0,
    kinematics: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Wrist translation that puts the hand centre at ``depth_range`` and every joint inside the image."""
    local, radius = kinematics if kinematics is not None else hand.local_joints(shape, pose)
    # Fingertips are labelled on the skin of mesh hands: keep the finger ends in view, not the pad centres.
    tips = np.array([4, 8, 12, 16, 20])
    along = local[tips] - local[tips - 1]
    local = local.copy()
    local[tips] += along / np.linalg.norm(along, axis=1, keepdims=True) * (0.5 * radius[tips, None])
    if side == "left":
        local = local * np.array([-1.0, 1.0, 1.0])
    rotated = local @ rotation.T
    # Centre between the wrist and the knuckles: what a crop around the hand would be centred on.
    centre = rotated[[0, 5, 9, 13, 17]].mean(axis=0)
    extent = float(np.max(np.linalg.norm(rotated - centre, axis=1)))
    size = min(camera.width, camera.height)
    focal = max(abs(camera.fx), abs(camera.fy))
    # Nearest depth at which the hand can fit in the image at all.
    near = max(depth_range[0], min(depth_range[1], 2.0 * focal * extent / max(size - 2 * margin_px, 1.0) * 0.8))
    # Draw all candidate placements at once; the first one that keeps every joint in view wins.
    tries = 16
    z = rng.uniform(near, depth_range[1], tries)
    fractions = rng.random((tries, 2))
    offset = _first_fit(
        rotated - centre,
        extent,
        z,
        fractions,
        camera.fx,
        camera.fy,
        camera.cx,
        camera.cy,
        camera.width,
        camera.height,
        margin_px,
    )
    if offset is not None:
        return offset - centre
    # Fall back to the image centre, far enough that the hand fits.
    z_far = depth_range[1]
    target = np.array(
        [(camera.width / 2 - camera.cx) * z_far / camera.fx, (camera.height / 2 - camera.cy) * z_far / camera.fy, z_far]
    )
    return target - centre


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _first_fit(points, extent, z, fractions, fx, fy, cx, cy, width, height, margin):
    """First candidate centre (depth ``z[i]``, image position from ``fractions[i]``) that keeps every
    point (relative to the centre) inside the image with ``margin`` pixels to spare; None if none does."""
    focal = max(abs(fx), abs(fy))
    for i in range(z.shape[0]):
        half = extent * focal / z[i]
        u_lo, u_hi = min(half, width / 2), max(width - half, width / 2)
        v_lo, v_hi = min(half, height / 2), max(height - half, height / 2)
        u = u_lo + fractions[i, 0] * (u_hi - u_lo)
        v = v_lo + fractions[i, 1] * (v_hi - v_lo)
        target = np.array([(u - cx) * z[i] / fx, (v - cy) * z[i] / fy, z[i]])
        fits = True
        for j in range(points.shape[0]):
            pz = points[j, 2] + target[2]
            if pz <= 50.0:
                fits = False
                break
            pu = (points[j, 0] + target[0]) * fx / pz + cx
            pv = (points[j, 1] + target[1]) * fy / pz + cy
            if pu < margin or pu > width - 1 - margin or pv < margin or pv > height - 1 - margin:
                fits = False
                break
        if fits:
            return target
    return None


def sample_hand(
    rng: np.random.Generator,
    camera: Camera,
    synergy: str | None = None,
    side: str | None = None,
    depth_range: tuple[float, float] = (200.0, 900.0),
    uniform_prob: float = 0.3,
    model: str = "mesh",
) -> HandState:
    """Shape, articulation, side, view and placement of one hand (``model``: ``"mesh"`` or ``"capsule"``)."""
    shape = hand.HandShape.sample(rng)
    if synergy is not None:
        name = synergy
    elif rng.random() < uniform_prob:
        name = "uniform"
    else:
        name = SYNERGY_NAMES[rng.integers(len(SYNERGY_NAMES))]
    pose = sample_articulation(rng, name)
    chosen_side = side if side is not None else ("left" if rng.random() < 0.5 else "right")
    rotation = sample_view(rng, pose, chosen_side)
    kinematics = hand.local_joints(shape, pose)
    translation = place_in_view(rng, shape, pose, rotation, chosen_side, camera, depth_range, kinematics=kinematics)
    return HandState(shape, pose, rotation, translation, chosen_side, name, kinematics, model)
