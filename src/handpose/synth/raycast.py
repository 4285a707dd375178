"""Compiled ray caster: analytic ray/primitive intersection into a z-buffer, one primitive at a time.

Every primitive is one row of a float64 table (see :data:`COLUMNS`). For each primitive the caster
computes a conservative screen-space box from bounding spheres and intersects only the pixels inside
it, keeping the nearest hit per pixel (z-buffer) and the index of the primitive that produced it.
Rays are ``t * (dx, dy, 1)`` with ``dx = (u - cx) / fx``, ``dy = (v - cy) / fy``, so the ray
parameter ``t`` *is* the depth ``z`` in millimetres.

Primitive types:

- ``CONE``: a rounded cone (two spheres and the cone tangent to both; a capsule when the radii are
  equal, a sphere when the centres coincide). Phalanges, palm, forearm, spheres and cylinders.
- ``ELLIPSOID``: centre plus a 3x3 map from world offsets to the unit sphere.
- ``BOX``: centre, world-to-box rotation and half extents (slab test).
- ``PLANE``: ``n . p = e``; covers the whole image (background walls and tables).

Kernels are compiled once by numba and cached on disk (``cache=True``), so only the first import on a
machine pays the compile time.
"""

from __future__ import annotations

import numba
import numpy as np

CONE, ELLIPSOID, BOX, PLANE = 0, 1, 2, 3
LAYER_BACKGROUND, LAYER_HAND, LAYER_OCCLUDER, LAYER_SLEEVE = 0, 1, 2, 3
NUM_COLUMNS = 21
COLUMNS = {
    "type": 0,
    "layer": 1,
    "bound": 2,  # bounding sphere centre (3) and radius (1) for ELLIPSOID and BOX
    "params": 6,  # type-specific block, see the pack_* helpers
}
NEAR_MM = 1.0

# error_model="numpy": float division by zero gives inf/nan (IEEE) instead of raising, which also lets
# loops with divisions vectorise.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


def pack_cone(a: np.ndarray, b: np.ndarray, ra: float, rb: float, layer: int) -> np.ndarray:
    row = np.zeros(NUM_COLUMNS)
    row[0], row[1] = CONE, layer
    row[6:9], row[9:12], row[12], row[13] = a, b, ra, rb
    return row


def pack_ellipsoid(center: np.ndarray, rotation: np.ndarray, radii: np.ndarray, layer: int) -> np.ndarray:
    """Ellipsoid with semi-axes ``radii`` along the columns of ``rotation``."""
    row = np.zeros(NUM_COLUMNS)
    row[0], row[1] = ELLIPSOID, layer
    row[2:5], row[5] = center, float(np.max(radii))
    to_unit = (rotation / np.asarray(radii, dtype=float)[None, :]).T
    row[6:9], row[9:18] = center, to_unit.reshape(-1)
    return row


def pack_box(center: np.ndarray, rotation: np.ndarray, half: np.ndarray, layer: int) -> np.ndarray:
    """Box with half extents ``half`` along the columns of ``rotation``."""
    row = np.zeros(NUM_COLUMNS)
    row[0], row[1] = BOX, layer
    row[2:5], row[5] = center, float(np.linalg.norm(half))
    row[6:9], row[9:18], row[18:21] = center, np.asarray(rotation).T.reshape(-1), half
    return row


def pack_plane(normal: np.ndarray, point: np.ndarray, layer: int = LAYER_BACKGROUND) -> np.ndarray:
    row = np.zeros(NUM_COLUMNS)
    n = np.asarray(normal, dtype=float)
    n = n / np.linalg.norm(n)
    row[0], row[1] = PLANE, layer
    row[6:9], row[9] = n, float(n @ np.asarray(point, dtype=float))
    return row


@_jit
def _disc_bound(x, y, z, r, fx, fy, cx, cy):
    """Projected centre and a pixel radius that contains the sphere's image; radius < 0 if the sphere
    is too close to the camera plane for the bound (the caller then scans the whole image)."""
    dist = np.sqrt(x * x + y * y + z * z)
    if z - r < 10.0 * NEAR_MM or r >= dist:
        return 0.0, 0.0, -1.0
    beta = np.arcsin(r / dist)
    theta = np.arccos(z / dist)
    if theta + beta > 1.4:
        return 0.0, 0.0, -1.0
    c = np.cos(theta + beta)
    radius = max(abs(fx), abs(fy)) * beta / (c * c) + 1.0
    return x * fx / z + cx, y * fy / z + cy, radius


@_jit
def _clip_to_frustum(ax, ay, az, ra, bx, by, bz, rb, fx, fy, cx, cy, width, height):
    """Sub-interval ``[s0, s1]`` of the segment a->b whose spheres can reach the image (s0 > s1: none).

    A visible surface point lies within ``max(ra, rb)`` of its segment point, so segment points farther
    than that outside any side plane of the view frustum cannot contribute.
    """
    r = max(ra, rb)
    s0, s1 = 0.0, 1.0
    # Inward plane normals (unnormalised x, y, z) of the four sides: u >= 0, u <= W-1, v >= 0, v <= H-1;
    # then the near plane.
    for i in range(5):
        if i == 4:
            # Near plane: nothing closer than NEAR_MM is drawn.
            f0 = az - NEAR_MM + r
            f1 = bz - NEAR_MM + r
            if f0 < 0.0 and f1 < 0.0:
                return 1.0, 0.0
            if f0 < 0.0:
                s0 = max(s0, f0 / (f0 - f1))
            elif f1 < 0.0:
                s1 = min(s1, f0 / (f0 - f1))
            continue
        if i == 0:
            nx, ny, nz = 1.0, 0.0, cx / fx
        elif i == 1:
            nx, ny, nz = -1.0, 0.0, (width - 1 - cx) / fx
        elif i == 2:
            nx, ny, nz = 0.0, 1.0, cy / fy
        else:
            nx, ny, nz = 0.0, -1.0, (height - 1 - cy) / fy
        norm = np.sqrt(nx * nx + ny * ny + nz * nz)
        f0 = (nx * ax + ny * ay + nz * az) / norm + r
        f1 = (nx * bx + ny * by + nz * bz) / norm + r
        if f0 < 0.0 and f1 < 0.0:
            return 1.0, 0.0
        if f0 < 0.0:
            s0 = max(s0, f0 / (f0 - f1))
        elif f1 < 0.0:
            s1 = min(s1, f0 / (f0 - f1))
    return s0, s1


@_jit
def _stadium_setup(ax, ay, az, ra, bx, by, bz, rb, fx, fy, cx, cy, width, height):
    """Screen-space stadium (two projected centres, one radius) containing a rounded cone's image.

    Returns ``(pu, pv, qu, qv, radius, v0, v1, full)``; ``full`` means "scan every pixel" and an
    empty row range ``v0 >= v1`` means the primitive is out of view.
    """
    s0, s1 = _clip_to_frustum(ax, ay, az, ra, bx, by, bz, rb, fx, fy, cx, cy, width, height)
    if s0 > s1:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, False
    # Spheres of the clipped piece: the rounded cone is the union of spheres with interpolated radii.
    px, py, pz, pr = ax + s0 * (bx - ax), ay + s0 * (by - ay), az + s0 * (bz - az), ra + s0 * (rb - ra)
    qx, qy, qz, qr = ax + s1 * (bx - ax), ay + s1 * (by - ay), az + s1 * (bz - az), ra + s1 * (rb - ra)
    pu, pv, r1 = _disc_bound(px, py, pz, pr, fx, fy, cx, cy)
    qu, qv, r2 = _disc_bound(qx, qy, qz, qr, fx, fy, cx, cy)
    if r1 < 0.0 or r2 < 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0, height, True
    radius = max(r1, r2)
    v0 = max(0, int(np.floor(min(pv, qv) - radius)))
    v1 = min(height, int(np.ceil(max(pv, qv) + radius)) + 1)
    return pu, pv, qu, qv, radius, v0, v1, False


@_jit
def _row_span(v, pu, pv, qu, qv, radius, width, full):
    """Half-open column range of row ``v`` that can intersect the stadium."""
    if full:
        return 0, width
    dv = qv - pv
    if abs(dv) < 1e-9:
        if abs(v - pv) > radius:
            return 0, 0
        lo, hi = min(pu, qu), max(pu, qu)
    else:
        s0 = (v - radius - pv) / dv
        s1 = (v + radius - pv) / dv
        if s0 > s1:
            s0, s1 = s1, s0
        s0 = max(s0, 0.0)
        s1 = min(s1, 1.0)
        if s0 > s1:
            return 0, 0
        u0 = pu + s0 * (qu - pu)
        u1 = pu + s1 * (qu - pu)
        lo, hi = min(u0, u1), max(u0, u1)
    return max(0, int(np.floor(lo - radius))), min(width, int(np.ceil(hi + radius)) + 1)


@_jit
def _raster_cone(prims, k, zbuf, ids, fx, fy, cx, cy):
    height, width = zbuf.shape
    inv_fx = 1.0 / fx  # a multiply per pixel instead of a divide
    ax, ay, az = prims[k, 6], prims[k, 7], prims[k, 8]
    bx, by, bz = prims[k, 9], prims[k, 10], prims[k, 11]
    ra, rb = prims[k, 12], prims[k, 13]
    wx, wy, wz = bx - ax, by - ay, bz - az
    length = np.sqrt(wx * wx + wy * wy + wz * wz)
    has_cone = length > abs(ra - rb) + 1e-6
    if not has_cone and rb > ra:
        # One sphere contains the other: only the larger one matters.
        ax, ay, az, ra = bx, by, bz, rb
    sin_a = 0.0
    cos2 = 1.0
    if has_cone:
        wx /= length
        wy /= length
        wz /= length
        sin_a = (ra - rb) / length
        cos2 = 1.0 - sin_a * sin_a
    aa = ax * ax + ay * ay + az * az
    bb = bx * bx + by * by + bz * bz
    ca = aa - ra * ra
    cb = bb - rb * rb
    y0 = -(ax * wx + ay * wy + az * wz)
    g = ra - sin_a * y0
    c_cone = g * g - cos2 * (aa - y0 * y0)
    y_lo = ra * sin_a
    y_hi = length + rb * sin_a
    pu, pv, qu, qv, rad, v0, v1, full = _stadium_setup(ax, ay, az, ra, bx, by, bz, rb, fx, fy, cx, cy, width, height)
    zmin = min(az - ra, bz - rb)
    for v in range(v0, v1):
        dy = (v - cy) / fy
        u0, u1 = _row_span(v, pu, pv, qu, qv, rad, width, full)
        for u in range(u0, u1):
            if zbuf[v, u] <= zmin:
                continue
            dx = (u - cx) * inv_fx
            dd = dx * dx + dy * dy + 1.0
            da = dx * ax + dy * ay + az
            best = np.inf
            need_caps = True
            if has_cone:
                dw = dx * wx + dy * wy + wz
                qa = sin_a * sin_a * dw * dw - cos2 * (dd - dw * dw)
                qb = -g * sin_a * dw + cos2 * (da + y0 * dw)
                disc = qb * qb - qa * c_cone
                if disc < 0.0:
                    # Outside the infinite cone all along the ray: both spheres lie inside it, so a miss.
                    if qa < 0.0:
                        continue
                elif qa != 0.0:
                    # The root where the ray enters the cone; on the lateral band it is the hull's entry.
                    t = (-qb + np.sqrt(disc)) / qa
                    y = y0 + t * dw
                    if y_lo <= y <= y_hi and t > NEAR_MM:
                        best = t
                        need_caps = False
            if need_caps:
                disc = da * da - dd * ca
                if disc >= 0.0:
                    t = (da - np.sqrt(disc)) / dd
                    if t > NEAR_MM:
                        best = t
                if has_cone:
                    db = dx * bx + dy * by + bz
                    disc = db * db - dd * cb
                    if disc >= 0.0:
                        t = (db - np.sqrt(disc)) / dd
                        if NEAR_MM < t < best:
                            best = t
            if best < zbuf[v, u]:
                zbuf[v, u] = best
                ids[v, u] = k


@_jit
def _raster_ellipsoid(prims, k, zbuf, ids, fx, fy, cx, cy):
    height, width = zbuf.shape
    inv_fx = 1.0 / fx  # a multiply per pixel instead of a divide
    m = prims[k, 9:18]
    c0, c1, c2 = prims[k, 6], prims[k, 7], prims[k, 8]
    q0 = -(m[0] * c0 + m[1] * c1 + m[2] * c2)
    q1 = -(m[3] * c0 + m[4] * c1 + m[5] * c2)
    q2 = -(m[6] * c0 + m[7] * c1 + m[8] * c2)
    qq = q0 * q0 + q1 * q1 + q2 * q2 - 1.0
    bx, by, bz, br = prims[k, 2], prims[k, 3], prims[k, 4], prims[k, 5]
    pu, pv, qu, qv, rad, v0, v1, full = _stadium_setup(bx, by, bz, br, bx, by, bz, br, fx, fy, cx, cy, width, height)
    zmin = bz - br
    for v in range(v0, v1):
        dy = (v - cy) / fy
        u0, u1 = _row_span(v, pu, pv, qu, qv, rad, width, full)
        for u in range(u0, u1):
            if zbuf[v, u] <= zmin:
                continue
            dx = (u - cx) * inv_fx
            e0 = m[0] * dx + m[1] * dy + m[2]
            e1 = m[3] * dx + m[4] * dy + m[5]
            e2 = m[6] * dx + m[7] * dy + m[8]
            qa = e0 * e0 + e1 * e1 + e2 * e2
            qb = e0 * q0 + e1 * q1 + e2 * q2
            disc = qb * qb - qa * qq
            if disc < 0.0:
                continue
            t = (-qb - np.sqrt(disc)) / qa
            if NEAR_MM < t < zbuf[v, u]:
                zbuf[v, u] = t
                ids[v, u] = k


@_jit
def _raster_box(prims, k, zbuf, ids, fx, fy, cx, cy):
    height, width = zbuf.shape
    inv_fx = 1.0 / fx  # a multiply per pixel instead of a divide
    m = prims[k, 9:18]
    c0, c1, c2 = prims[k, 6], prims[k, 7], prims[k, 8]
    o = np.empty(3)
    o[0] = -(m[0] * c0 + m[1] * c1 + m[2] * c2)
    o[1] = -(m[3] * c0 + m[4] * c1 + m[5] * c2)
    o[2] = -(m[6] * c0 + m[7] * c1 + m[8] * c2)
    h = prims[k, 18:21]
    bx, by, bz, br = prims[k, 2], prims[k, 3], prims[k, 4], prims[k, 5]
    pu, pv, qu, qv, rad, v0, v1, full = _stadium_setup(bx, by, bz, br, bx, by, bz, br, fx, fy, cx, cy, width, height)
    zmin = bz - br
    e = np.empty(3)
    for v in range(v0, v1):
        dy = (v - cy) / fy
        u0, u1 = _row_span(v, pu, pv, qu, qv, rad, width, full)
        for u in range(u0, u1):
            if zbuf[v, u] <= zmin:
                continue
            dx = (u - cx) * inv_fx
            e[0] = m[0] * dx + m[1] * dy + m[2]
            e[1] = m[3] * dx + m[4] * dy + m[5]
            e[2] = m[6] * dx + m[7] * dy + m[8]
            tmin = -np.inf
            tmax = np.inf
            for i in range(3):
                if abs(e[i]) < 1e-12:
                    if abs(o[i]) > h[i]:
                        tmin = np.inf
                    continue
                inv = 1.0 / e[i]
                t1 = (-h[i] - o[i]) * inv
                t2 = (h[i] - o[i]) * inv
                if t1 > t2:
                    t1, t2 = t2, t1
                tmin = max(tmin, t1)
                tmax = min(tmax, t2)
            if tmin <= tmax and NEAR_MM < tmin < zbuf[v, u]:
                zbuf[v, u] = tmin
                ids[v, u] = k


@_jit
def _raster_plane(prims, k, zbuf, ids, fx, fy, cx, cy):
    height, width = zbuf.shape
    n0, n1, n2, e = prims[k, 6], prims[k, 7], prims[k, 8], prims[k, 9]
    # Single precision and branch-free selects: both loops vectorise (a plane touches every pixel).
    slope = np.float32(n0 / fx)
    e32 = np.float32(e)
    near = np.float32(NEAR_MM)
    kk = np.int32(k)
    depth = np.empty(width, dtype=np.float32)
    for v in range(height):
        base = np.float32(n1 * (v - cy) / fy + n2 - n0 * cx / fx)
        for u in range(width):
            depth[u] = e32 / (slope * np.float32(u) + base)
        zrow = zbuf[v]
        irow = ids[v]
        for u in range(width):
            t = depth[u]
            closer = (t > near) & (t < zrow[u])
            zrow[u] = t if closer else zrow[u]
            irow[u] = kk if closer else irow[u]


@_jit
def rasterize(prims, zbuf, ids, fx, fy, cx, cy):
    """Intersect every primitive (rows of ``prims``) into ``zbuf`` (inf = empty) and ``ids`` (-1 = empty)."""
    # Nearest primitives first: later ones then skip every pixel already covered by something closer
    # than their own nearest point (the early depth test in each raster loop).
    nearest = np.empty(prims.shape[0])
    for k in range(prims.shape[0]):
        kind = int(prims[k, 0])
        if kind == CONE:
            nearest[k] = min(prims[k, 8] - prims[k, 12], prims[k, 11] - prims[k, 13])
        elif kind == PLANE:
            nearest[k] = np.inf
        else:
            nearest[k] = prims[k, 4] - prims[k, 5]
    for k in np.argsort(nearest, kind="mergesort"):
        kind = int(prims[k, 0])
        if kind == CONE:
            _raster_cone(prims, k, zbuf, ids, fx, fy, cx, cy)
        elif kind == ELLIPSOID:
            _raster_ellipsoid(prims, k, zbuf, ids, fx, fy, cx, cy)
        elif kind == BOX:
            _raster_box(prims, k, zbuf, ids, fx, fy, cx, cy)
        else:
            _raster_plane(prims, k, zbuf, ids, fx, fy, cx, cy)


@_jit
def surface_normal(prims, k, px, py, pz):
    """Unit outward normal of primitive ``k`` at surface point ``p`` (facing the camera for planes)."""
    kind = int(prims[k, 0])
    nx, ny, nz = 0.0, 0.0, -1.0
    if kind == CONE:
        ax, ay, az = prims[k, 6], prims[k, 7], prims[k, 8]
        bx, by, bz = prims[k, 9], prims[k, 10], prims[k, 11]
        ra, rb = prims[k, 12], prims[k, 13]
        wx, wy, wz = bx - ax, by - ay, bz - az
        length = np.sqrt(wx * wx + wy * wy + wz * wz)
        if length <= abs(ra - rb) + 1e-6:
            if ra >= rb:
                nx, ny, nz = px - ax, py - ay, pz - az
            else:
                nx, ny, nz = px - bx, py - by, pz - bz
        else:
            wx /= length
            wy /= length
            wz /= length
            sin_a = (ra - rb) / length
            y = (px - ax) * wx + (py - ay) * wy + (pz - az) * wz
            if y < ra * sin_a:
                nx, ny, nz = px - ax, py - ay, pz - az
            elif y > length + rb * sin_a:
                nx, ny, nz = px - bx, py - by, pz - bz
            else:
                rx = px - ax - y * wx
                ry = py - ay - y * wy
                rz = pz - az - y * wz
                rn = np.sqrt(rx * rx + ry * ry + rz * rz) + 1e-12
                cos_a = np.sqrt(1.0 - sin_a * sin_a)
                nx = cos_a * rx / rn + sin_a * wx
                ny = cos_a * ry / rn + sin_a * wy
                nz = cos_a * rz / rn + sin_a * wz
    elif kind == ELLIPSOID:
        m = prims[k, 9:18]
        ox, oy, oz = px - prims[k, 6], py - prims[k, 7], pz - prims[k, 8]
        q0 = m[0] * ox + m[1] * oy + m[2] * oz
        q1 = m[3] * ox + m[4] * oy + m[5] * oz
        q2 = m[6] * ox + m[7] * oy + m[8] * oz
        nx = m[0] * q0 + m[3] * q1 + m[6] * q2
        ny = m[1] * q0 + m[4] * q1 + m[7] * q2
        nz = m[2] * q0 + m[5] * q1 + m[8] * q2
    elif kind == BOX:
        m = prims[k, 9:18]
        ox, oy, oz = px - prims[k, 6], py - prims[k, 7], pz - prims[k, 8]
        best = -1.0
        for i in range(3):
            q = m[3 * i] * ox + m[3 * i + 1] * oy + m[3 * i + 2] * oz
            rel = abs(q) / prims[k, 18 + i]
            if rel > best:
                best = rel
                sign = 1.0 if q > 0 else -1.0
                nx, ny, nz = sign * m[3 * i], sign * m[3 * i + 1], sign * m[3 * i + 2]
    else:
        nx, ny, nz = prims[k, 6], prims[k, 7], prims[k, 8]
        if nx * px + ny * py + nz * pz > 0.0:
            nx, ny, nz = -nx, -ny, -nz
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
    return nx / norm, ny / norm, nz / norm


@_jit
def visible_joints(joints, radius, zbuf, fx, fy, cx, cy, tolerance):
    """Per joint: inside the image and the first surface on its pixel's ray no more than
    ``radius + tolerance`` in front of it."""
    height, width = zbuf.shape
    out = np.zeros(joints.shape[0], dtype=np.bool_)
    for j in range(joints.shape[0]):
        z = joints[j, 2]
        if z <= 0.0:
            continue
        u = np.rint(joints[j, 0] * fx / z + cx)
        v = np.rint(joints[j, 1] * fy / z + cy)
        if 0 <= u < width and 0 <= v < height:
            out[j] = zbuf[int(v), int(u)] >= z - radius[j] - tolerance
    return out
