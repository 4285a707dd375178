"""Synthetic hand engine: kinematics, limits, ray caster, cameras, mirroring, labels vs pixels, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.geometry import Camera, get_camera
from handpose.synth import hand, poses, raycast
from handpose.synth.frame import joint_visibility, label_radius, render_frame
from handpose.synth.render_depth import depth_image, render_zbuffer

SMALL = Camera(150.0, 150.0, 79.5, 59.5, 160, 120, "small")


def _bone_angle(joints: np.ndarray, a: int, b: int, c: int) -> float:
    u = joints[b] - joints[a]
    v = joints[c] - joints[b]
    cos = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def test_sampled_poses_respect_joint_limits_and_dip_coupling():
    rng = np.random.default_rng(0)
    assert len(hand.POSE_PARAM_NAMES) == hand.NUM_POSE_PARAMS == len(hand.LOWER)
    for i in range(400):
        synergy = "uniform" if i % 3 == 0 else poses.SYNERGY_NAMES[i % len(poses.SYNERGY_NAMES)]
        pose = poses.sample_articulation(rng, synergy)
        assert np.all(pose >= hand.LOWER - 1e-9) and np.all(pose <= hand.UPPER + 1e-9)
        for f in range(1, 5):
            pip, dip = pose[4 * f + 2], pose[4 * f + 3]
            clipped = np.isclose(dip, hand.LOWER[4 * f + 3]) or np.isclose(dip, hand.UPPER[4 * f + 3])
            if not clipped:
                assert abs(dip - hand.DIP_PIP_RATIO * pip) < np.radians(20.0)
        # The bend measured on the posed skeleton matches the parameter: PIP and DIP never exceed their limits.
        joints, _ = hand.local_joints(hand.HandShape(), pose)
        for f in range(1, 5):
            mcp = 1 + 4 * f
            assert _bone_angle(joints, mcp, mcp + 1, mcp + 2) == pytest.approx(
                np.degrees(abs(pose[4 * f + 2])), abs=1e-3
            )
            assert _bone_angle(joints, mcp + 1, mcp + 2, mcp + 3) <= hand.LIMITS_DEG[4 * f + 3].max() + 1e-6


def test_shape_variation_and_proportions():
    rng = np.random.default_rng(1)
    open_pose = np.zeros(hand.NUM_POSE_PARAMS)
    lengths = []
    for _ in range(200):
        shape = hand.HandShape.sample(rng)
        assert 0.8 <= shape.scale <= 1.2
        assert all(0.9 <= f <= 1.1 for f in shape.finger_lengths)
        joints, radius = hand.local_joints(shape, open_pose)
        lengths.append(np.linalg.norm(joints[12] - joints[0]) / shape.scale)
        # Fingers 10-25 mm thick at the PIP joints (15-20 mm at scale 1).
        assert np.all((2 * radius[[6, 10, 14, 18]] > 10.0) & (2 * radius[[6, 10, 14, 18]] < 25.0))
    # Wrist to middle fingertip of an open hand at scale 1: about a 185 mm hand (minus the fingertip pad).
    assert 170.0 < np.median(lengths) < 190.0
    joints, _ = hand.local_joints(hand.HandShape(), open_pose)
    middle = [np.linalg.norm(joints[i + 1] - joints[i]) for i in (9, 10, 11)]
    assert middle[0] > middle[1] > middle[2]  # proximal > middle > distal phalanx


def test_hand_sizes_follow_the_anthropometric_tables_of_each_sex():
    rng = np.random.default_rng(7)
    shapes = [hand.HandShape.sample(rng) for _ in range(3000)]
    for female in (False, True):
        group = [s for s in shapes if s.female == female]
        sex = "female" if female else "male"
        length = np.array([s.scale for s in group]) * hand.REFERENCE_HAND_LENGTH_MM
        mean, sd = hand.HAND_LENGTH_MM[sex]
        assert 1300 < len(group) < 1700
        assert abs(length.mean() - mean) < 1.0 and abs(length.std() - sd) < 1.0
        assert length.min() >= mean - 2.5 * sd - 1e-6 and length.max() <= mean + 2.5 * sd + 1e-6
        # The sexes' index-to-ring ratios differ as in the table, around the reference hand's.
        ratio = np.mean([s.finger_lengths[1] / s.finger_lengths[3] for s in group])
        assert ratio == pytest.approx(hand.DIGIT_RATIO[sex] / 0.99, abs=0.004)
    palm = {f: np.mean([s.palm_width for s in shapes if s.female == f]) for f in (False, True)}
    assert palm[True] < palm[False]  # women's hands are narrower for their length
    assert len({s.to_array().shape for s in shapes}) == 1 and shapes[0].to_array().shape == (hand.SHAPE_SIZE,)


def test_bone_factors_change_only_their_own_bone():
    open_pose = np.zeros(hand.NUM_POSE_PARAMS)
    base, base_radius = hand.local_joints(hand.HandShape(), open_pose)
    factors = [1.0] * hand.NUM_BONES
    factors[3 * 2 + 1] = 1.1  # middle finger, middle phalanx
    thick = [1.0] * hand.NUM_BONES
    thick[3 * 4 + 0] = 1.1  # little finger, proximal phalanx
    joints, radius = hand.local_joints(
        hand.HandShape(bone_lengths=tuple(factors), bone_thickness=tuple(thick)), open_pose
    )
    bone = lambda j, a, b: np.linalg.norm(j[b] - j[a])  # noqa: E731
    assert bone(joints, 10, 11) == pytest.approx(1.1 * bone(base, 10, 11))
    for a in (9, 11, 5, 6, 7):
        assert bone(joints, a, a + 1) == pytest.approx(bone(base, a, a + 1))
    assert radius[17] == pytest.approx(1.1 * base_radius[17]) and radius[13] == pytest.approx(base_radius[13])


def test_placement_keeps_hand_in_view_and_depth_range():
    rng = np.random.default_rng(2)
    cam = get_camera("nyu")
    for _ in range(40):
        state = poses.sample_hand(rng, cam)
        joints = state.geometry().joints
        uvd = cam.xyz_to_uvd(joints)
        assert np.all(
            (uvd[:, 0] >= 0) & (uvd[:, 0] <= cam.width - 1) & (uvd[:, 1] >= 0) & (uvd[:, 1] <= cam.height - 1)
        )
        centre = joints[[0, 5, 9, 13, 17]].mean(axis=0)
        assert 200.0 - 1e-6 <= centre[2] <= 900.0 + 1e-6
        assert hand.forearm_direction(state.pose, state.rotation, state.side)[2] > -0.35


def _brute_force_cone(a, b, ra, rb, cam):
    """Nearest hit of every pixel's ray with the hull of two spheres, all roots checked (no shortcuts)."""
    v, u = np.mgrid[0 : cam.height, 0 : cam.width].astype(float)
    d = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1)
    best = np.full(u.shape, np.inf)
    for c, r in ((a, ra), (b, rb)):
        dc, dd = d @ c, (d * d).sum(-1)
        disc = dc**2 - dd * (c @ c - r * r)
        t = (dc - np.sqrt(np.maximum(disc, 0))) / dd
        best = np.where((disc >= 0) & (t > 0) & (t < best), t, best)
    length = np.linalg.norm(b - a)
    w = (b - a) / length
    k = (ra - rb) / length
    # Points p = t d on the tangent cone: (ra - k y)^2 = (1 - k^2) (|p - a|^2 - y^2), y = (p - a) . w
    dw, da, dd = d @ w, d @ a, (d * d).sum(-1)
    y0 = -(a @ w)
    c2 = 1 - k * k
    qa = k * k * dw**2 - c2 * (dd - dw**2)
    qb = -(ra - k * y0) * k * dw + c2 * (da + y0 * dw)
    qc = (ra - k * y0) ** 2 - c2 * (a @ a - y0**2)
    disc = qb**2 - qa * qc
    for sign in (-1.0, 1.0):
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (-qb + sign * np.sqrt(np.maximum(disc, 0))) / qa
        y = y0 + t * dw
        ok = (disc >= 0) & (t > 0) & (y >= ra * k) & (y <= length + rb * k) & (t < best)
        best = np.where(ok, t, best)
    return best


def test_ray_caster_matches_brute_force_rounded_cone():
    cam = SMALL
    a, b = np.array([-30.0, -10.0, 300.0]), np.array([25.0, 20.0, 340.0])
    prims = raycast.pack_cone(a, b, 14.0, 6.0, raycast.LAYER_HAND)[None]
    zbuf, ids = render_zbuffer(prims, cam)
    expected = _brute_force_cone(a, b, 14.0, 6.0, cam)
    hit = np.isfinite(expected)
    assert hit.sum() > 250
    assert np.array_equal(np.isfinite(zbuf), hit)
    np.testing.assert_allclose(zbuf[hit], expected[hit], atol=1e-3)
    assert np.all(ids[hit] == 0) and np.all(ids[~hit] == -1)


def test_ray_caster_ellipsoid_box_and_plane():
    cam = SMALL
    centre = np.array([5.0, -4.0, 250.0])
    sphere = raycast.pack_ellipsoid(centre, np.eye(3), np.array([20.0, 20.0, 20.0]), raycast.LAYER_OCCLUDER)
    zbuf, _ = render_zbuffer(sphere[None], cam)
    u, v = np.rint(centre[:2] / centre[2] * cam.fx + [cam.cx, cam.cy]).astype(int)
    assert zbuf[v, u] == pytest.approx(230.0, abs=0.2)
    box = raycast.pack_box(centre, np.eye(3), np.array([10.0, 10.0, 10.0]), raycast.LAYER_OCCLUDER)
    zbuf, _ = render_zbuffer(box[None], cam)
    assert zbuf[v, u] == pytest.approx(240.0, abs=1e-3)
    plane = raycast.pack_plane(np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 800.0]))
    zbuf, _ = render_zbuffer(np.stack([plane, box]), cam)
    assert np.allclose(zbuf[0], 800.0) and zbuf[v, u] == pytest.approx(240.0, abs=1e-3)


@pytest.mark.parametrize("name", ["nyu", "icvl", "msra", "hands2017"])
def test_camera_presets_project_correctly(name):
    cam = get_camera(name).y_down()
    point = np.array([-60.0, 35.0, 500.0])
    prims = raycast.pack_cone(point, point, 8.0, 8.0, raycast.LAYER_OCCLUDER)[None]
    zbuf, _ = render_zbuffer(prims, cam)
    v, u = np.nonzero(np.isfinite(zbuf))
    expected_u = point[0] * cam.fx / point[2] + cam.cx
    expected_v = point[1] * cam.fy / point[2] + cam.cy
    assert abs(u.mean() - expected_u) < 0.5 and abs(v.mean() - expected_v) < 0.5
    assert zbuf.min() == pytest.approx(point[2] - 8.0, abs=0.5)
    # Labels are written with the same projection.
    _, labels = render_frame(0, 0, "depth", name, noise=False, background="empty")
    joints = labels["joints_xyz"].astype(float)
    np.testing.assert_allclose(labels["joints_uvd"][:, 0], joints[:, 0] * cam.fx / joints[:, 2] + cam.cx, atol=1e-3)
    np.testing.assert_allclose(labels["joints_uvd"][:, 1], joints[:, 1] * cam.fy / joints[:, 2] + cam.cy, atol=1e-3)


def test_left_hand_mirrors_right_hand():
    rng = np.random.default_rng(3)
    shape, pose = hand.HandShape.sample(rng), poses.sample_articulation(rng, "pinch")
    R = poses.random_rotation(rng)
    t = np.array([10.0, -5.0, 420.0])
    right = hand.pose_hand(shape, pose, R, t, "right")
    flip = np.diag([-1.0, 1.0, 1.0])
    left = hand.pose_hand(shape, pose, flip @ R @ flip, flip @ t, "left")
    np.testing.assert_allclose(left.joints, right.joints @ flip, atol=1e-9)
    # The mirrored scene renders as the horizontally flipped image (principal point at the centre).
    cam = Camera(200.0, 200.0, 79.5, 59.5, 160, 120)
    z_right, _ = render_zbuffer(right.primitives, cam)
    z_left, _ = render_zbuffer(left.primitives, cam)
    d_right = depth_image(z_right)
    d_left = depth_image(z_left)
    assert (d_right > 0).sum() > 1000
    assert np.mean(d_left == d_right[:, ::-1]) > 0.999
    assert np.abs(d_left.astype(int) - d_right[:, ::-1].astype(int)).max() <= 1

    # Chirality differs: the signed volume of (index MCP, little MCP, middle tip) around the wrist flips.
    def chirality(j):
        return np.linalg.det(np.stack([j[5] - j[0], j[17] - j[0], j[12] - j[0]]))

    assert np.sign(chirality(left.joints)) == -np.sign(chirality(right.joints))


def _pixel_depths(image, uvd):
    u = np.rint(uvd[:, 0]).astype(int)
    v = np.rint(uvd[:, 1]).astype(int)
    inside = (u >= 0) & (u < image.shape[1]) & (v >= 0) & (v < image.shape[0])
    d = np.zeros(len(uvd))
    d[inside] = image[v[inside], u[inside]]
    return d, inside


def _window_depths(image, uvd):
    """Per joint, the 3x3 pixel depths around its rounded pixel (0 outside the image)."""
    padded = np.pad(image.astype(float), 1)
    u = np.clip(np.rint(uvd[:, 0]).astype(int), -1, image.shape[1]) + 1
    v = np.clip(np.rint(uvd[:, 1]).astype(int), -1, image.shape[0]) + 1
    return np.stack([padded[v + dv, u + du] for dv in (-1, 0, 1) for du in (-1, 0, 1)], axis=1)


@pytest.mark.parametrize("hand_model", ["capsule", "mesh"])
def test_labels_agree_with_pixels(hand_model):
    tol = 2.5  # visibility tolerance (2 mm) + uint16 rounding
    seen_hidden = 0
    for i in range(24):
        image, labels = render_frame(11, i, "depth", "icvl", occluders=True, noise=False, hand_model=hand_model)
        z = labels["joints_xyz"][:, 2]
        r = labels["joint_radius"]
        d, inside = _pixel_depths(image, labels["joints_uvd"])
        vis = labels["visibility"]
        assert not np.any(vis & ~inside)
        # Visible: the first surface on the joint's pixel lies in front of the joint, within its radius.
        # Mesh fingertips are labelled on the skin, so their pixel may fall just off the silhouette: the
        # surface then shows within one pixel of it.
        tips = np.zeros(21, dtype=bool)
        if hand_model == "mesh":
            tips[[4, 8, 12, 16, 20]] = True
            window = _window_depths(image, labels["joints_uvd"])
            on_surface = (window <= z[:, None] + tol) & (window >= (z - r - tol)[:, None]) & (window > 0)
            assert np.all(on_surface[vis & tips].any(axis=1))
        centre = vis & ~tips
        assert np.all(d[centre] <= z[centre] + tol)
        assert np.all(d[centre] >= z[centre] - r[centre] - tol)
        # Hidden (in the image): something is clearly in front of the joint.
        hidden = inside & ~vis
        assert np.all((d[hidden] > 0) & (d[hidden] < z[hidden] - r[hidden] - 1.5))
        seen_hidden += hidden.sum()
    assert seen_hidden > 0


def test_labels_agree_with_noisy_pixels():
    for i in range(8):
        image, labels = render_frame(12, i, "depth", "nyu", noise=True)
        z = labels["joints_xyz"][:, 2]
        d, _ = _pixel_depths(image, labels["joints_uvd"])
        vis = labels["visibility"] & (d > 0)  # sensor dropout may blank a joint's pixel
        vis[[4, 8, 12, 16, 20]] = False  # on the skin: may sit one pixel off the silhouette (tested without noise)
        # Noise sigma <= 2 mm + 3e-6 z^2 (< 4.5 mm at 900 mm); quantisation step <= 2.4 mm: allow 4 sigma + step.
        slack = 4 * (2.0 + 3e-6 * z**2) + 2.85e-6 * z**2 + 1.0
        assert np.all(d[vis] <= z[vis] + slack[vis])
        assert np.all(d[vis] >= z[vis] - labels["joint_radius"][vis] - slack[vis])


def _side_view_state(model: str = "capsule"):
    # Camera looks at the hand's radial side: the index finger is nearest and covers the others.
    R = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    pose = np.radians(poses.SYNERGIES["open"])
    pose[0:4] = 0.0
    return poses.HandState(hand.HandShape(), pose, R, np.array([-90.0, 0.0, 400.0]), "right", "open", model=model)


def test_self_occluded_and_occluder_hidden_joints_are_not_visible():
    state = _side_view_state("capsule")
    geometry = state.geometry()
    radius = label_radius(geometry.joint_radius, 1.0)
    zbuf, _ = render_zbuffer(geometry.primitives, SMALL)
    vis = joint_visibility(geometry.joints, radius, zbuf, SMALL)
    assert vis[8] and vis[7]  # index tip and DIP face the camera
    assert not vis[20] and not vis[16]  # little and ring tips are behind the index finger
    # A ball on the line of sight to the index tip hides it and nothing else of the index finger's base.
    tip = geometry.joints[8]
    ball = raycast.pack_cone(tip * 0.8, tip * 0.8, 6.0, 6.0, raycast.LAYER_OCCLUDER)
    zbuf, _ = render_zbuffer(np.vstack([geometry.primitives, ball[None]]), SMALL)
    vis_occluded = joint_visibility(geometry.joints, radius, zbuf, SMALL)
    assert not vis_occluded[8]
    assert vis_occluded[5] == vis[5]


def test_render_frame_is_deterministic():
    a, la = render_frame(5, 17, "depth", SMALL, occluders=True)
    b, lb = render_frame(5, 17, "depth", SMALL, occluders=True)
    assert a.dtype == np.uint16 and a.tobytes() == b.tobytes()
    for key in ("joints_xyz", "visibility", "pose", "shape"):
        assert np.array_equal(la[key], lb[key])
    c, _ = render_frame(5, 18, "depth", SMALL, occluders=True)
    assert c.tobytes() != a.tobytes()
    rgb1, _ = render_frame(5, 17, "rgb", SMALL, occluders=True)
    rgb2, _ = render_frame(5, 17, "rgb", SMALL, occluders=True)
    assert rgb1.shape == (120, 160, 3) and rgb1.dtype == np.uint8 and rgb1.tobytes() == rgb2.tobytes()


def test_both_hands_and_varied_frames():
    sides = set()
    synergies = set()
    for i in range(30):
        _, labels = render_frame(8, i, "depth", SMALL, background="empty")
        sides.add(labels["handedness"])
        synergies.add(labels["synergy"])
    assert sides == {"left", "right"}
    assert len(synergies) >= 6
