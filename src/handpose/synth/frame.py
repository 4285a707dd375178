"""One synthetic frame from ``(seed, index)``: hand, occluders, background, image and labels.

:func:`render_frame` is a pure function of its arguments: the random stream of frame ``index`` is
seeded from ``(seed, index)`` alone, so frames can be rendered in any order, in any process, and the
same arguments always give the same bytes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.geometry import Camera, get_camera
from handpose.synth import poses, raster, raycast, scene
from handpose.synth.hand import HAND_MODELS, HandGeometry
from handpose.synth.render_depth import depth_image, render_zbuffer
from handpose.synth.render_rgb import shade
from handpose.synth.sensors import sensor_for_camera

MODALITIES = ("depth", "rgb")
BACKGROUNDS = ("mixed", "empty", "cluttered")
HANDS = ("both", "right", "left")
DEFAULT_RGB_CAMERA = Camera(300.0, 300.0, 127.5, 127.5, 256, 256, "synth_rgb256")
VISIBILITY_TOLERANCE_MM = 2.0

# Label radius of the wrist, thumb CMC and MCP joints (mm at reference size): these joints sit inside
# the forearm, thenar and knuckles, whose surface can be further from the joint than a finger's.
_THICK_JOINT_RADIUS = {0: 26.0, 1: 20.0, 5: 16.0, 9: 16.0, 13: 16.0, 17: 15.0}


def check_hands(hands: str) -> None:
    """One-line error for a ``hands`` choice other than both, right or left."""
    if hands not in HANDS:
        raise HandposeError(f"unknown hands {hands!r}; expected one of {', '.join(HANDS)}")


def resolve_camera(camera: str | Camera | None, modality: str = "depth") -> Camera:
    """A camera with a known image size (presets, ``"fx,fy,cx,cy[,w,h]"`` or ``None`` for the default)."""
    if camera is None:
        return CAMERAS_DEFAULT[modality]
    cam = get_camera(camera).y_down()
    if cam.fx <= 0:
        raise HandposeError(f"camera {camera!r}: fx must be positive (a mirrored image is not supported)")
    if cam.width <= 0 or cam.height <= 0:
        # Intrinsics without a size: assume the principal point is (about) the image centre.
        width, height = 2 * math.ceil(cam.cx), 2 * math.ceil(cam.cy)
        if width <= 0 or height <= 0 or width > 8192 or height > 8192:
            raise HandposeError(f"camera {camera!r}: give the image size as fx,fy,cx,cy,width,height")
        cam = Camera(cam.fx, cam.fy, cam.cx, cam.cy, width, height, cam.name)
    if cam.width > 8192 or cam.height > 8192:
        raise HandposeError(f"camera {camera!r}: image size {cam.width}x{cam.height} is too large (max 8192)")
    return cam


CAMERAS_DEFAULT = {"depth": get_camera("nyu"), "rgb": DEFAULT_RGB_CAMERA}


def check_hand_model(model: str) -> None:
    """One-line error for a hand model other than mesh or capsule."""
    if model not in HAND_MODELS:
        raise HandposeError(f"unknown hand model {model!r}; expected one of {', '.join(HAND_MODELS)}")


def frame_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of frame ``index`` of run ``seed``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, int(index)])


def label_radius(joint_radius: np.ndarray, scale: float) -> np.ndarray:
    radius = joint_radius.astype(np.float64).copy()
    for j, r in _THICK_JOINT_RADIUS.items():
        radius[j] = max(radius[j], r * scale)
    return radius


def hand_region(geometry: HandGeometry, camera: Camera, margin_px: int = 8) -> tuple[int, int, int, int]:
    """Pixel rows v0-v1 and columns u0-u1 around the hand (its joints, widened by the thickest joint's
    image and ``margin_px``): where its fingers can be thin enough for a sensor to lose them."""
    joints = geometry.joints
    z = np.maximum(joints[:, 2], 1.0)
    u = joints[:, 0] * camera.fx / z + camera.cx
    v = joints[:, 1] * camera.fy / z + camera.cy
    pad = float(np.max(geometry.joint_radius * camera.fx / z)) + margin_px
    return (int(v.min() - pad), int(np.ceil(v.max() + pad)) + 1, int(u.min() - pad), int(np.ceil(u.max() + pad)) + 1)


def joint_visibility(joints: np.ndarray, radius: np.ndarray, zbuf: np.ndarray, camera: Camera) -> np.ndarray:
    """A joint is visible when it projects into the image and the first surface on its pixel's ray lies
    no more than its radius (plus a small tolerance) in front of it; otherwise something (another part of
    the hand, an occluder) hides it."""
    return raycast.visible_joints(
        np.ascontiguousarray(joints, dtype=np.float64),
        np.ascontiguousarray(radius, dtype=np.float64),
        zbuf,
        float(camera.fx),
        float(camera.fy),
        float(camera.cx),
        float(camera.cy),
        VISIBILITY_TOLERANCE_MM,
    )


def render_frame(
    seed: int,
    index: int,
    modality: str = "depth",
    camera: str | Camera | None = None,
    occluders: bool = False,
    background: str = "mixed",
    noise: bool = True,
    depth_range: tuple[float, float] = (200.0, 900.0),
    state: poses.HandState | None = None,
    hands: str = "both",
    hand_model: str = "mesh",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render frame ``index`` of the synthetic stream ``seed``.

    Args:
        seed: Run seed.
        index: Frame index; with ``seed`` it fixes everything random in the frame.
        modality: ``"depth"`` or ``"rgb"``.
        camera: Preset name, ``"fx,fy,cx,cy[,w,h]"``, a :class:`Camera`, or ``None`` (NYU for depth,
            a 256x256 camera for RGB).
        occluders: Add occluders to most frames.
        background: ``"mixed"``, ``"empty"`` or ``"cluttered"`` (depth only).
        noise: Depth through the camera's sensor model (:func:`handpose.synth.sensors.sensor_for_camera`).
        depth_range: Range of the hand centre's depth, mm.
        state: Use this hand instead of sampling one (tests and custom scenes).
        hands: ``"both"`` (left or right, even odds), ``"right"`` or ``"left"``.
        hand_model: ``"mesh"`` (the skinned hand mesh, default) or ``"capsule"`` (rounded cones).

    Returns:
        The image (``(H, W)`` uint16 mm for depth, ``(H, W, 3)`` uint8 for RGB) and a labels dict:
        ``joints_xyz`` (21x3 float32 mm), ``joints_uvd`` (21x3 float32), ``visibility`` (21 bool),
        ``joint_radius`` (21 float32 mm), ``handedness`` (``"right"``/``"left"``), ``pose`` (22 float32
        radians), ``shape`` (``hand.SHAPE_SIZE`` float32), ``rotation`` (3x3), ``translation`` (3), ``synergy``,
        ``occluder`` (mode or ``""``), ``camera``.
    """
    if modality not in MODALITIES:
        raise HandposeError(f"unknown modality {modality!r}; expected depth or rgb")
    if background not in BACKGROUNDS:
        raise HandposeError(f"unknown background {background!r}; expected one of {', '.join(BACKGROUNDS)}")
    check_hands(hands)
    check_hand_model(hand_model)
    cam = camera if isinstance(camera, Camera) and camera.width > 0 else resolve_camera(camera, modality)
    rng = frame_rng(seed, index)
    occluder_mode = ""
    if occluders:
        r = rng.random()
        occluder_mode = "" if r < 0.2 else ("held" if r < 0.45 else ("front" if r < 0.8 else "near"))
    if state is None:
        synergy = poses.GRASPS[int(rng.integers(2))] if occluder_mode == "held" else None
        side = None if hands == "both" else hands
        state = poses.sample_hand(rng, cam, synergy=synergy, side=side, depth_range=depth_range, model=hand_model)
    geometry = state.geometry()
    blocks = [geometry.primitives]
    if rng.random() < scene.SLEEVE_PROB:
        blocks.append(scene.sample_sleeve(rng, state))
    if occluder_mode:
        blocks.append(scene.sample_occluders(rng, state, geometry.joints, occluder_mode, cam))
    cluttered = background == "cluttered" or (background == "mixed" and rng.random() < 0.5)
    if modality == "depth" and cluttered:
        blocks.append(scene.sample_depth_background(rng, state, geometry.joints, cam))
    elif modality == "rgb" and cluttered:
        blocks.append(scene.sample_rgb_surface(rng, state, geometry.joints))
    prims = np.ascontiguousarray(np.vstack(blocks))
    zbuf, ids = render_zbuffer(prims, cam, reuse=True)
    if geometry.vertices is not None:
        # Back faces are always hidden behind front faces; a left hand's mirror reverses the winding.
        cull = 1.0 if state.side == "right" else -1.0
        raster.rasterize_triangles(
            geometry.vertices, geometry.triangles, zbuf, ids, len(prims), cam.fx, cam.fy, cam.cx, cam.cy, cull
        )
        radius = geometry.joint_radius
    else:
        radius = label_radius(geometry.joint_radius, state.shape.scale * state.shape.thickness)
    visibility = joint_visibility(geometry.joints, radius, zbuf, cam)
    if modality == "depth":
        sensor = sensor_for_camera(cam.name).sample(rng) if noise else None
        key = int(rng.integers(0, 2**63))
        projector_side = 1.0 if rng.random() < 0.5 else -1.0
        image = depth_image(zbuf, sensor, key, float(cam.fx), projector_side, hand_region(geometry, cam))
    else:
        image = shade(rng, zbuf, ids, prims, cam, geometry)
    joints = geometry.joints
    uvd = np.stack(
        [joints[:, 0] * cam.fx / joints[:, 2] + cam.cx, joints[:, 1] * cam.fy / joints[:, 2] + cam.cy, joints[:, 2]], 1
    )
    labels: dict[str, Any] = {
        "joints_xyz": joints.astype(np.float32),
        "joints_uvd": uvd.astype(np.float32),
        "visibility": visibility,
        "joint_radius": radius.astype(np.float32),
        "handedness": state.side,
        "pose": state.pose.astype(np.float32),
        "shape": state.shape.to_array().astype(np.float32),
        "rotation": state.rotation.astype(np.float32),
        "translation": state.translation.astype(np.float32),
        "synergy": state.synergy,
        "occluder": occluder_mode,
        "camera": cam,
    }
    return image, labels
