"""Cameras and geometry: intrinsics, uvd <-> xyz, 3D-cube crops, Procrustes alignment.

Conventions (used everywhere in handpose):

- Camera frame: x right, y down, z forward, millimetres. Readers convert on load (NYU's and MSRA's
  y-up labels, HO3D's OpenGL axes, metres); nothing downstream converts again.
- ``uvd``: pixel column ``u``, pixel row ``v`` (pixel centres at integers), depth ``d`` = z in mm.
- ``x = (u - cx) * d / fx``, ``y = (v - cy) * d / fy``, ``z = d``.

Camera presets keep both the values the public evaluation tables use (``*_eval``) and the values the
dataset or its reference code uses, where they differ. The NYU table value ``fy = -587.07`` encodes a
y-up frame; :meth:`Camera.y_down` gives the same camera in our convention (distances are unchanged).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from handpose.errors import HandposeError


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics (pixels) and the image size they belong to.

    Attributes:
        fx: Focal length along u.
        fy: Focal length along v (negative only in presets that reproduce a y-up table).
        cx: Principal point u.
        cy: Principal point v.
        width: Image width in pixels (0 when unknown).
        height: Image height in pixels (0 when unknown).
        name: Preset name, or ``"custom"``.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int = 0
    height: int = 0
    name: str = "custom"

    @property
    def K(self) -> np.ndarray:
        """3x3 intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_K(cls, K: np.ndarray, width: int = 0, height: int = 0, name: str = "custom") -> Camera:
        K = np.asarray(K, dtype=float)
        if K.shape != (3, 3):
            raise HandposeError(f"intrinsic matrix must be 3x3, got shape {K.shape}")
        return cls(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), width, height, name)

    def y_down(self) -> Camera:
        """The same camera in handpose's y-down frame (``fy`` made positive)."""
        return replace(self, fy=abs(self.fy))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Camera:
        try:
            camera = cls(
                float(d["fx"]),
                float(d["fy"]),
                float(d["cx"]),
                float(d["cy"]),
                int(d.get("width", 0)),
                int(d.get("height", 0)),
                str(d.get("name", "custom")),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise HandposeError(f"camera needs numeric fx, fy, cx, cy: {exc}") from None
        if not all(math.isfinite(v) for v in (camera.fx, camera.fy, camera.cx, camera.cy)) or 0 in (
            camera.fx,
            camera.fy,
        ):
            raise HandposeError("camera intrinsics must be finite with non-zero focal lengths")
        return camera

    def uvd_to_xyz(self, uvd: np.ndarray) -> np.ndarray:
        return uvd_to_xyz(uvd, self)

    def xyz_to_uvd(self, xyz: np.ndarray) -> np.ndarray:
        return xyz_to_uvd(xyz, self)

    def crop(self, x0: float, y0: float, scale: float = 1.0, size: tuple[int, int] | None = None) -> Camera:
        """Intrinsics of the image cut at (x0, y0) and then resized by ``scale``."""
        w, h = size if size is not None else (round(self.width * scale), round(self.height * scale))
        return Camera(self.fx * scale, self.fy * scale, (self.cx - x0) * scale, (self.cy - y0) * scale, w, h, self.name)


CAMERAS: dict[str, Camera] = {
    c.name: c
    for c in (
        # Depth datasets. *_eval reproduce the awesome-hand-pose-estimation tables (evaluation/src/util.py).
        Camera(241.42, 241.42, 160.0, 120.0, 320, 240, "icvl"),
        Camera(240.99, 240.96, 160.0, 120.0, 320, 240, "icvl_eval"),
        Camera(588.036865, 587.075073, 320.0, 240.0, 640, 480, "nyu"),
        Camera(588.03, -587.07, 320.0, 240.0, 640, 480, "nyu_eval"),
        Camera(241.42, 241.42, 160.0, 120.0, 320, 240, "msra"),
        Camera(241.42, 241.42, 160.0, 120.0, 320, 240, "msra_eval"),
        Camera(475.065948, 475.065857, 315.944855, 245.287079, 640, 480, "hands2017"),
        Camera(475.065948, 475.065857, 315.944855, 245.287079, 640, 480, "hands2019"),
        Camera(475.065948, 475.065857, 315.944855, 245.287079, 640, 480, "bighand"),
        # RGB datasets (RHD, FreiHAND and HO3D carry per-frame K; these are the fixed ones).
        Camera(607.92271, 607.88192, 314.78337, 236.42484, 640, 480, "stb_sk"),
        Camera(822.79041, 822.79041, 318.47345, 250.31296, 640, 480, "stb_bb"),
        Camera(617.173, 617.173, 315.453, 242.259, 640, 480, "ganerated"),
        Camera(617.173, 617.173, 315.453, 242.259, 640, 480, "synthhands_color"),
        Camera(475.62, 475.62, 311.125, 245.965, 640, 480, "synthhands_depth"),
        Camera(587.45209, 600.67456, 325.0, 249.0, 640, 480, "dexter_color"),
        Camera(224.502, 224.502, 160.0, 120.0, 320, 240, "dexter_depth"),
    )
}


# Focal lengths a user may give for a custom camera: a real lens is tens to thousands of pixels; zero,
# negative (a y-up convention, which only the *_eval presets use) or 1e-300 makes joints NaN or mirrored.
MIN_FOCAL_PX, MAX_FOCAL_PX = 1.0, 100_000.0


def get_camera(spec: str | Camera) -> Camera:
    """A preset by name, or custom intrinsics written ``"fx,fy,cx,cy"`` (optionally ``,width,height``)."""
    if isinstance(spec, Camera):
        return spec
    if spec in CAMERAS:
        return CAMERAS[spec]
    parts = spec.split(",")
    if len(parts) in (4, 6):
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if vals and all(np.isfinite(vals)):
            w, h = (int(vals[4]), int(vals[5])) if len(vals) == 6 else (0, 0)
            for axis, focal in (("fx", vals[0]), ("fy", vals[1])):
                if not MIN_FOCAL_PX <= focal <= MAX_FOCAL_PX:
                    sign = "must be positive and " if focal <= 0 else "must "
                    raise HandposeError(
                        f"camera {spec!r}: {axis} {sign}lie in [{MIN_FOCAL_PX:g}, {MAX_FOCAL_PX:g}] pixels"
                    )
            if max(abs(vals[2]), abs(vals[3])) > MAX_FOCAL_PX:
                raise HandposeError(f"camera {spec!r}: the principal point must lie within {MAX_FOCAL_PX:g} pixels")
            return Camera(vals[0], vals[1], vals[2], vals[3], w, h)
    raise HandposeError(f"unknown camera {spec!r}; use fx,fy,cx,cy or one of: {', '.join(sorted(CAMERAS))}")


def uvd_to_xyz(uvd: np.ndarray, camera: Camera) -> np.ndarray:
    """Back-project ``(..., 3)`` pixel+depth coordinates to camera-space millimetres."""
    uvd = np.asarray(uvd, dtype=np.float64)
    xyz = np.empty_like(uvd)
    xyz[..., 0] = (uvd[..., 0] - camera.cx) * uvd[..., 2] / camera.fx
    xyz[..., 1] = (uvd[..., 1] - camera.cy) * uvd[..., 2] / camera.fy
    xyz[..., 2] = uvd[..., 2]
    return xyz


def xyz_to_uvd(xyz: np.ndarray, camera: Camera) -> np.ndarray:
    """Project ``(..., 3)`` camera-space millimetres to pixel+depth coordinates."""
    xyz = np.asarray(xyz, dtype=np.float64)
    uvd = np.empty_like(xyz)
    z = xyz[..., 2]
    uvd[..., 0] = xyz[..., 0] * camera.fx / z + camera.cx
    uvd[..., 1] = xyz[..., 1] * camera.fy / z + camera.cy
    uvd[..., 2] = z
    return uvd


# ------------------------------------------------------------------------------------------------
# 3D-cube crops
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CubeCrop:
    """A 3D cube around a hand centre, seen as a 2D affine warp plus a depth window.

    The cube (``cube`` mm wide, high and deep) centred at ``center_xyz`` is projected at the centre's
    depth to a box in the image; the box is scaled, aspect kept, into an ``out_size`` square, and
    ``rotation_deg`` turns the crop about its centre (augmentation). ``matrix`` maps image pixels to
    crop pixels.

    Encoding joints and depth pixels for a crop is :mod:`handpose.codecs.cube`'s job; this class is
    only the geometry.

    Attributes:
        center_xyz: Cube centre in camera-space mm.
        cube: Cube edge lengths (x, y, z) in mm.
        camera: Camera of the full image.
        out_size: Side of the square crop in pixels.
        rotation_deg: In-plane rotation of the crop, counter-clockwise on screen.
    """

    center_xyz: tuple[float, float, float]
    cube: tuple[float, float, float]
    camera: Camera
    out_size: int = 96
    rotation_deg: float = 0.0

    @classmethod
    def around(
        cls,
        center_xyz: np.ndarray,
        cube: float | tuple[float, float, float],
        camera: Camera,
        out_size: int = 96,
        rotation_deg: float = 0.0,
    ) -> CubeCrop:
        c = np.asarray(center_xyz, dtype=float).reshape(3)
        if not np.all(np.isfinite(c)) or c[2] <= 0:
            raise HandposeError(f"hand centre must be finite with positive depth, got {c.tolist()}")
        x, y, z = (float(e) for e in np.broadcast_to(np.asarray(cube, dtype=float), (3,)))
        return cls((float(c[0]), float(c[1]), float(c[2])), (x, y, z), camera, int(out_size), float(rotation_deg))

    @property
    def center_uvd(self) -> np.ndarray:
        return xyz_to_uvd(np.array(self.center_xyz), self.camera)

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        z = self.center_xyz[2]
        half_w = self.cube[0] / 2 * abs(self.camera.fx) / z
        half_h = self.cube[1] / 2 * abs(self.camera.fy) / z
        return self.out_size / (2 * max(half_w, half_h))

    @property
    def matrix(self) -> np.ndarray:
        """3x3 homogeneous affine map from image pixels to crop pixels."""
        u, v, _ = self.center_uvd
        s, half = self.scale, self.out_size / 2
        a = np.deg2rad(self.rotation_deg)
        # Screen counter-clockwise rotation in a y-down image.
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        m = np.eye(3)
        m[:2, :2] = s * rot
        m[:2, 2] = np.array([half, half]) - m[:2, :2] @ np.array([u, v])
        return m


# ------------------------------------------------------------------------------------------------
# Alignment
# ------------------------------------------------------------------------------------------------
def procrustes_align(
    pred: np.ndarray, gt: np.ndarray, scale: bool = True, allow_reflection: bool = False
) -> np.ndarray:
    """Align ``pred`` to ``gt`` with the best similarity transform (rotation, translation, scale).

    Both are ``(..., J, 3)``. Centres on the mean of the points and solves the orthogonal Procrustes
    problem by SVD. ``allow_reflection=True`` matches ``scipy.linalg.orthogonal_procrustes`` as used
    by the FreiHAND evaluation (``align_w_scale``); the default keeps a proper rotation.

    Returns:
        ``pred`` mapped into ``gt``'s frame, same shape.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_g = gt.mean(axis=-2, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g
    # H = P^T G; R = V U^T maps centred pred onto centred gt (row vectors: p @ R^T).
    h = np.swapaxes(p0, -1, -2) @ g0
    u, s, vt = np.linalg.svd(h)
    if not allow_reflection:
        d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
        d = np.where(d == 0, 1.0, d)
        vt = vt.copy()
        vt[..., -1, :] *= d[..., None]
        s = s.copy()
        s[..., -1] *= d
    r = np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)
    if scale:
        var_p = (p0**2).sum(axis=(-1, -2))
        k = s.sum(axis=-1) / np.where(var_p > 0, var_p, 1.0)
    else:
        k = np.ones(pred.shape[:-2])
    return k[..., None, None] * (p0 @ np.swapaxes(r, -1, -2)) + mu_g
