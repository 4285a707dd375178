"""The skinned hand mesh: shipped asset, skinning, triangle rasteriser, labels on the mesh."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.geometry import Camera
from handpose.synth import compose, hand, mesh, poses, raster, render_rgb, skin
from handpose.synth.frame import render_frame
from handpose.synth.render_depth import render_zbuffer

SMALL = Camera(150.0, 150.0, 79.5, 59.5, 160, 120, "small")
SHA256 = {
    "right.glb": "291790c14f7f88a7f9bd35330c47392ed8e8d395ae6728f4bb7089f1bc1f2b96",
    "left.glb": "bc67783144944ea1cda54d9247885825ea5fb9d4651469fe7d00be517a5c2b87",
}


def test_shipped_meshes_match_their_recorded_checksums_and_licence():
    folder = resources.files(mesh.ASSET_PACKAGE)
    for name, digest in SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert "MIT" in (folder / "LICENSE").read_text(encoding="utf-8")


def test_mesh_reads_into_the_hand_frame_and_left_mirrors_right():
    right, left = mesh.load_hand_mesh("right"), mesh.load_hand_mesh("left")
    assert right.vertices.shape == (1360, 3) and right.triangles.shape == (2314, 3)
    assert right.bones.max() < mesh.NUM_BONES and np.allclose(right.weights.sum(1), 1.0)
    np.testing.assert_allclose(right.joints[0], 0.0, atol=1e-9)
    # Fingers point along +y, the thumb is radial (+x) and the little finger ulnar.
    middle_tip = right.joints[mesh.JOINT_NAMES.index("middle-finger-tip")]
    assert middle_tip[1] > 150.0 and abs(middle_tip[0]) < 20.0
    assert right.joints[mesh.JOINT_NAMES.index("thumb-tip")][0] > 40.0
    assert right.joints[mesh.JOINT_NAMES.index("pinky-finger-tip")][0] < -40.0
    # The left file mirrored into the right-hand frame is the same hand (vertex order aside).
    np.testing.assert_allclose(np.sort(left.vertices, axis=0), np.sort(right.vertices, axis=0), atol=0.5)
    with pytest.raises(HandposeError, match="side"):
        mesh.load_hand_mesh("middle")


def test_broken_glb_is_a_one_line_error(tmp_path):
    path = tmp_path / "broken.glb"
    path.write_bytes(b"glTF not really")
    with pytest.raises(HandposeError, match=r"broken\.glb"):
        mesh.read_glb(str(path), "right")


def _bind_skeleton(rig: skin.Rig):
    """Model inputs (joints, radii, frames, carpals, shape) whose posed bones are exactly the bind bones."""
    webxr = mesh.CANONICAL_TO_WEBXR
    o, axes = rig.mesh.joints, rig.bind_axes
    joints = o[webxr].copy()
    radius = np.full(21, 4.0)
    frames = np.zeros((21, 3, 3))
    for j in range(21):
        bone = webxr[j - 1] if j in skin.TIP_JOINTS else webxr[j]
        frames[j] = axes[bone]
    for j in skin.TIP_JOINTS:
        distal = webxr[j - 1]
        # The model's tip joint sits the inset inside the finger end, which maps onto the skin exit.
        end = o[distal] + axes[distal][:, 1] * rig.bind_length[distal]
        joints[j] = end - axes[distal][:, 1] * hand._TIP_INSET * radius[j]
    carpals = o[[5, 10, 15, 20]]
    shape = hand.HandShape(scale=rig.reference_length / hand.REFERENCE_HAND_LENGTH_MM).to_array()
    return joints, radius, frames, carpals, shape


def test_skinning_the_bind_skeleton_reproduces_the_bind_pose():
    rig = skin.rig("right")
    joints, radius, frames, carpals, shape = _bind_skeleton(rig)
    points, normals = skin.posed_bones(
        joints, radius, frames, carpals, shape, skin.BONE_KIND, skin.BONE_SOURCE, skin.BONE_END,
        rig.bind_origin, rig.bind_axes, rig.bind_length, rig.reference_length,
    )  # fmt: skip
    np.testing.assert_allclose(points[:, :, :3], np.broadcast_to(np.eye(3), (25, 3, 3)), atol=1e-9)
    m = rig.mesh
    vertices, vertex_normals = skin.skin(
        points, normals, m.vertices, m.normals, m.bones, m.weights, np.eye(3), np.zeros(3), 1.0
    )
    np.testing.assert_allclose(vertices, m.vertices, atol=1e-9)
    np.testing.assert_allclose(vertex_normals, m.normals / np.linalg.norm(m.normals, axis=1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skinned_skeleton_follows_the_sampled_shape_and_pose(seed):
    rng = np.random.default_rng(seed)
    rig = skin.rig("right")
    shape = hand.HandShape.sample(rng)
    pose = poses.sample_articulation(rng, "uniform")
    points, _ = skin.bone_transforms(shape.to_array(), pose, rig)
    joints, _ = hand.local_joints(shape, pose)
    # Each mesh joint, carried by its own bone, lands on the model's joint: bone lengths are the model's.
    o = rig.bind_origin
    for j in range(1, 21):
        if j in skin.TIP_JOINTS:
            continue
        b = mesh.CANONICAL_TO_WEBXR[j]
        moved = points[b, :, :3] @ o[b] + points[b, :, 3]
        np.testing.assert_allclose(moved, joints[j], atol=1e-6)
        child = mesh.CHILD[b]
        if child >= 0 and j + 1 not in skin.TIP_JOINTS:
            carried = points[b, :, :3] @ rig.mesh.joints[child] + points[b, :, 3]
            np.testing.assert_allclose(carried, joints[j + 1], atol=1e-6)
    # A bigger hand gives a proportionally bigger skinned mesh.
    m = rig.mesh
    big = hand.HandShape(scale=1.2)
    small = hand.HandShape(scale=0.8)
    extent = []
    for s in (small, big):
        p, n = skin.bone_transforms(s.to_array(), np.zeros(hand.NUM_POSE_PARAMS), rig)
        v, _ = skin.skin(p, n, m.vertices, m.normals, m.bones, m.weights, np.eye(3), np.zeros(3), 1.0)
        extent.append(np.ptp(v[:, 1]))
    assert extent[1] / extent[0] == pytest.approx(1.5, rel=0.02)


def _brute_force_triangles(vertices, triangles, cam):
    """Nearest ray-triangle hit per pixel (Moller-Trumbore on every pair)."""
    v, u = np.mgrid[0 : cam.height, 0 : cam.width].astype(float)
    d = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1).reshape(-1, 3)
    best = np.full(len(d), np.inf)
    for a, b, c in vertices[triangles]:
        e1, e2 = b - a, c - a
        p = np.cross(d, e2)
        det = p @ e1
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            s = -a
            bu = (p @ s) * inv
            q = np.cross(s, e1)
            bv = (d @ q) * inv
            t = (e2 @ q) * inv
        hit = (bu >= 0) & (bv >= 0) & (bu + bv <= 1) & (t > 0) & (t < best)
        best[hit] = t[hit]
    return best.reshape(cam.height, cam.width)


def test_rasteriser_matches_ray_triangle_intersection():
    rng = np.random.default_rng(4)
    vertices = np.column_stack([rng.uniform(-60, 60, 12), rng.uniform(-45, 45, 12), rng.uniform(250, 400, 12)])
    triangles = rng.integers(0, 12, (10, 3)).astype(np.int32)
    triangles = triangles[(triangles[:, 0] != triangles[:, 1]) & (triangles[:, 1] != triangles[:, 2])]
    triangles = triangles[triangles[:, 0] != triangles[:, 2]]
    zbuf = np.full((SMALL.height, SMALL.width), np.inf, dtype=np.float32)
    ids = np.full(zbuf.shape, -1, dtype=np.int32)
    raster.rasterize_triangles(vertices, triangles, zbuf, ids, 7, SMALL.fx, SMALL.fy, SMALL.cx, SMALL.cy)
    expected = _brute_force_triangles(vertices, triangles, SMALL)
    both = np.isfinite(expected) & np.isfinite(zbuf)
    # Coverage agrees except on pixel centres lying exactly on an edge (float ties).
    assert np.mean(np.isfinite(expected) != np.isfinite(zbuf)) < 0.002
    assert both.sum() > 500
    np.testing.assert_allclose(zbuf[both], expected[both], rtol=1e-5)
    assert ids[both].min() >= 7 and np.all(ids[~np.isfinite(zbuf)] == -1)


def test_mesh_hand_renders_with_surface_labels_and_hides_occluded_joints():
    R = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    pose = np.radians(poses.SYNERGIES["open"])
    pose[0:4] = 0.0
    state = poses.HandState(hand.HandShape(), pose, R, np.array([-90.0, 0.0, 400.0]), "right", "open", model="mesh")
    image, labels = render_frame(0, 0, "depth", SMALL, noise=False, background="empty", state=state)
    vis = labels["visibility"]
    assert (image > 0).sum() > 1500
    assert vis[8] and vis[7] and not vis[20] and not vis[16]  # the index finger hides the little and ring
    # The fingertip label is on the skin: farther from the DIP than the capsule hand's pad centre.
    capsule = poses.HandState(state.shape, pose, R, state.translation, "right", "open", model="capsule")
    _, capsule_labels = render_frame(0, 0, "depth", SMALL, noise=False, background="empty", state=capsule)
    np.testing.assert_allclose(labels["joints_xyz"][:4], capsule_labels["joints_xyz"][:4], atol=1e-4)
    assert np.linalg.norm(labels["joints_xyz"][8] - capsule_labels["joints_xyz"][8]) > 2.0
    zbuf, _ = render_zbuffer(state.geometry().primitives, SMALL)
    assert np.isfinite(zbuf).sum() < (image > 0).sum()  # the primitives are only the forearm


def test_mesh_is_the_default_and_frames_are_deterministic():
    a, la = render_frame(3, 5, "rgb", SMALL, occluders=True)
    b, lb = render_frame(3, 5, "rgb", SMALL, occluders=True, hand_model="mesh")
    c, _ = render_frame(3, 5, "rgb", SMALL, occluders=True, hand_model="capsule")
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert np.array_equal(la["joints_xyz"], lb["joints_xyz"])
    with pytest.raises(HandposeError, match="hand model"):
        render_frame(3, 5, "depth", SMALL, hand_model="cube")


def test_skin_tones_span_the_monk_scale():
    rng = np.random.default_rng(5)
    tones = np.array([render_rgb.sample_skin(rng) for _ in range(400)])
    luminance = tones @ np.array([0.2126, 0.7152, 0.0722])
    swatches = render_rgb.SKIN_TONES @ np.array([0.2126, 0.7152, 0.0722])
    assert len(render_rgb.SKIN_TONES) == 10 and np.all(np.diff(swatches[2:]) < 0)  # light to dark
    assert luminance.min() < swatches[-1] + 0.05 and luminance.max() > swatches[0] - 0.08
    assert np.mean(luminance < 0.4) > 0.2 and np.mean(luminance > 0.7) > 0.2


def test_mesh_hand_casts_a_shadow_along_the_light():
    R = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # palm facing the camera
    state = poses.HandState(hand.HandShape(), np.zeros(hand.NUM_POSE_PARAMS), R, np.array([0.0, 60.0, 400.0]), "right")
    geometry = state.geometry()
    light = np.array([0.4, 0.0, 1.0]) / np.linalg.norm([0.4, 0.0, 1.0])
    smap, frame = render_rgb.shadow_map(geometry, light)
    palm = geometry.joints[9] * 0.5 + geometry.joints[0] * 0.5
    behind = palm + light * 80.0  # on the light's path, 80 mm beyond the palm
    beside = palm + np.array([150.0, 0.0, 80.0])  # far off the path
    in_front = palm - light * 80.0  # between the light and the hand
    assert compose.shadow_factor(smap, frame, *behind) == 0.0
    assert compose.shadow_factor(smap, frame, *beside) == 1.0
    assert compose.shadow_factor(smap, frame, *in_front) == 1.0
    # Capsule hands have no shadow map.
    capsule = poses.HandState(
        hand.HandShape(), np.zeros(hand.NUM_POSE_PARAMS), R, state.translation, "right", model="capsule"
    )
    assert render_rgb.shadow_map(capsule.geometry(), light)[0].shape == (1, 1)
