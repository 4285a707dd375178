"""Everything in a frame besides the hand: occluders (in front, near, held) and depth backgrounds.

Occluders are spheres, boxes and cylinders (capsule-ended) placed in one of three ways:

- ``front``: on the line of sight to a random joint, 30-150 mm in front of it (hides part of the hand);
- ``near``: beside the hand at about its depth (may touch or partly hide it);
- ``held``: a ball or handle inside a grasping hand (the frame's pose is then a grasp).

Cluttered depth backgrounds are a wall and sometimes a table plane, both kept behind every point of
the hand and arm, plus blobs (spheres, ellipsoids, boxes) behind the hand.
"""

from __future__ import annotations

import numpy as np

from handpose.geometry import Camera
from handpose.synth import hand, raycast
from handpose.synth.poses import HandState, quaternion_matrix, random_rotation

OCCLUDER_MODES = ("front", "near", "held")


def palm_frame(state: HandState) -> tuple[np.ndarray, np.ndarray]:
    """Palm centre (camera mm) and the unit palmar normal (pointing out of the palm) of a posed hand."""
    mirror = np.array([-1.0, 1.0, 1.0]) if state.side == "left" else np.ones(3)
    s = state.shape.scale
    centre_local = np.array([-4.0 * state.shape.palm_width, 55.0, 3.0]) * s
    centre = state.rotation @ (centre_local * mirror) + state.translation
    normal = state.rotation @ (np.array([0.0, 0.0, 1.0]) * mirror)
    return centre, normal


def _random_object(rng: np.random.Generator, centre: np.ndarray, size: float, layer: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return raycast.pack_cone(centre, centre, size, size, layer)
    if kind == 1:
        half = size * rng.uniform(0.4, 1.0, 3)
        return raycast.pack_box(centre, random_rotation(rng), half, layer)
    axis = random_rotation(rng)[:, 0]
    half_len = size * rng.uniform(1.0, 2.5)
    radius = size * rng.uniform(0.3, 0.6)
    return raycast.pack_cone(centre - axis * half_len, centre + axis * half_len, radius, radius, layer)


def sample_occluders(
    rng: np.random.Generator, state: HandState, joints: np.ndarray, mode: str, camera: Camera
) -> np.ndarray:
    """Occluder rows for ``mode`` (``front``, ``near`` or ``held``), shape ``(n, NUM_COLUMNS)``."""
    layer = raycast.LAYER_OCCLUDER
    s = state.shape.scale
    rows = []
    if mode == "held":
        centre, normal = palm_frame(state)
        if state.synergy == "cylinder_grasp":
            radius = rng.uniform(14.0, 22.0) * s
            mirror = np.array([-1.0, 1.0, 1.0]) if state.side == "left" else np.ones(3)
            across = state.rotation @ (np.array([1.0, 0.0, 0.0]) * mirror)
            mid = centre + normal * (14.0 * s + radius) + state.rotation @ (np.array([0.0, 10.0, 0.0]) * s)
            half = rng.uniform(60.0, 110.0)
            rows.append(raycast.pack_cone(mid - across * half, mid + across * half, radius, radius, layer))
        else:
            radius = rng.uniform(26.0, 40.0) * s
            rows.append(raycast.pack_cone(*(2 * [centre + normal * (12.0 * s + radius)]), radius, radius, layer))
    elif mode == "front":
        target = joints[rng.integers(1, 21)]
        gap = rng.uniform(30.0, 150.0)
        z = max(target[2] - gap, 60.0)
        lateral = rng.normal(0.0, 8.0, 2)
        centre = target * (z / target[2]) + np.array([lateral[0], lateral[1], 0.0])
        size = rng.uniform(12.0, 35.0) * min(1.0, z / 250.0)
        rows.append(_random_object(rng, centre, size, layer))
    elif mode == "near":
        for _ in range(int(rng.integers(1, 3))):
            anchor = joints[rng.integers(21)]
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            size = rng.uniform(15.0, 45.0)
            centre = anchor + direction * (size + rng.uniform(0.0, 40.0))
            if centre[2] - size < 60.0:
                continue
            rows.append(_random_object(rng, centre, size, layer))
    if not rows:
        return np.zeros((0, raycast.NUM_COLUMNS))
    return np.stack(rows)


SLEEVE_PROB = 0.5


def sample_sleeve(rng: np.random.Generator, state: HandState) -> np.ndarray:
    """A sleeve over the forearm: a rounded cone from 15-150 mm above the wrist to the forearm's end,
    3-15 mm of cloth around the forearm's two capsules; shape ``(1, NUM_COLUMNS)``."""
    s, th = state.shape.scale, state.shape.thickness
    r = rng.random(2)
    direction = hand.forearm_direction(state.pose, state.rotation, state.side)
    length = hand.FOREARM_LENGTH_MM * s
    start = (15.0 + 135.0 * float(r[0])) * s
    cloth = 3.0 + 12.0 * float(r[1])

    def half_width(t: float) -> float:
        # The forearm is two capsules 22 mm apart whose radius grows from 19 to 27 mm (at scale 1).
        return 11.0 * s + (19.0 + 8.0 * t / length) * s * th + cloth

    a = state.translation + direction * start
    b = state.translation + direction * length
    return raycast.pack_cone(a, b, half_width(start), half_width(length), raycast.LAYER_SLEEVE)[None]


def sample_rgb_surface(rng: np.random.Generator, state: HandState, joints: np.ndarray) -> np.ndarray:
    """A wall or table close behind the hand (15-250 mm behind every hand and arm point, tilted up to
    about 40 degrees) for the hand's shadow to fall on; shape ``(1, NUM_COLUMNS)``."""
    points = _hand_extremes(state, joints)
    r = rng.random(3)
    normal = np.array([1.6 * r[0] - 0.8, 1.6 * r[1] - 0.8, -1.0])
    normal /= np.linalg.norm(normal)
    return _plane_row(normal, float(np.min(points @ normal)) - (15.0 + 235.0 * r[2]))[None]


def _hand_extremes(state: HandState, joints: np.ndarray) -> np.ndarray:
    """Joints plus the forearm end: points every background surface must stay behind."""
    direction = hand.forearm_direction(state.pose, state.rotation, state.side)
    arm_end = joints[0] + direction * hand.FOREARM_LENGTH_MM * state.shape.scale
    return np.vstack([joints, arm_end[None, :]])


def sample_depth_background(
    rng: np.random.Generator, state: HandState, joints: np.ndarray, camera: Camera
) -> np.ndarray:
    """Background rows for a cluttered depth frame: a wall, maybe a table, and 0-4 blobs."""
    points = _hand_extremes(state, joints)
    r = rng.random(8)  # one draw for the planes and the blob count
    rows = []
    # Wall: facing the camera, tilted up to ~45 degrees, 120-1200 mm behind every hand and arm point.
    normal = np.array([1.4 * r[0] - 0.7, 1.4 * r[1] - 0.7, -1.0])
    normal /= np.linalg.norm(normal)
    rows.append(_plane_row(normal, float(np.min(points @ normal)) - (120.0 + 1080.0 * r[2])))
    if r[3] < 0.5:
        # Table or floor below the hand (y down): its normal points up and towards the camera.
        normal = np.array([0.6 * r[4] - 0.3, -1.0, 0.7 * r[5] - 0.6])
        normal /= np.linalg.norm(normal)
        offset = float(np.min(points @ normal)) - (40.0 + 360.0 * r[6])
        if offset < 0.0:
            rows.append(_plane_row(normal, offset))
    count = int(r[7] * 5)
    if count:
        z_back = float(np.max(points[:21, 2]))
        b = rng.random((count, 10))
        quats = rng.normal(size=(count, 4))
        for i in range(count):
            size = 30.0 + 130.0 * b[i, 0]
            z = z_back + size + 40.0 + 660.0 * b[i, 1]
            u, v = b[i, 2] * camera.width, b[i, 3] * camera.height
            centre = np.array([(u - camera.cx) * z / camera.fx, (v - camera.cy) * z / camera.fy, z])
            rotation = quaternion_matrix(quats[i])
            kind = b[i, 4]
            if kind < 0.4:
                rows.append(raycast.pack_ellipsoid(centre, rotation, size * (0.3 + 0.7 * b[i, 5:8]), 0))
            elif kind < 0.6:
                rows.append(raycast.pack_cone(centre, centre, size, size, raycast.LAYER_BACKGROUND))
            elif kind < 0.8:
                rows.append(
                    raycast.pack_box(centre, rotation, size * (0.4 + 0.6 * b[i, 5:8]), raycast.LAYER_BACKGROUND)
                )
            else:
                half, radius = size * (1.0 + 1.5 * b[i, 8]), size * (0.3 + 0.3 * b[i, 9])
                axis = rotation[:, 0]
                rows.append(raycast.pack_cone(centre - axis * half, centre + axis * half, radius, radius, 0))
    return np.stack(rows)


def _plane_row(normal: np.ndarray, offset: float) -> np.ndarray:
    # n . p = offset with the camera (origin) on the side n . p > offset.
    row = np.zeros(raycast.NUM_COLUMNS)
    row[0], row[1] = raycast.PLANE, raycast.LAYER_BACKGROUND
    row[6:9], row[9] = normal, offset
    return row
