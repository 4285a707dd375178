"""Compiled z-buffer triangle rasteriser (numba) for the skinned hand mesh.

Triangles are drawn into the same z-buffer and id buffer as the analytic primitives of
:mod:`handpose.synth.raycast`, with the same pixel rays ``t * ((u - cx)/fx, (v - cy)/fy, 1)``: a pixel
is covered when its centre ``(u, v)`` lies inside the projected triangle, and its depth is the exact
ray-plane depth, ``1 / z`` interpolated linearly in the image (barycentric weights of the pixel
centre). Both faces are drawn (a mirrored hand reverses the winding, and the wrist is open). The id
of a covered pixel is ``id_offset + triangle index``.
"""

from __future__ import annotations

import numba
import numpy as np

from handpose.synth.raycast import NEAR_MM

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def rasterize_triangles(vertices, triangles, zbuf, ids, id_offset, fx, fy, cx, cy, cull=0.0):
    """Draw ``triangles`` (``(T, 3)`` indices into camera-frame ``vertices``, mm) into ``zbuf``/``ids``."""
    height, width = zbuf.shape
    nv = vertices.shape[0]
    pu = np.empty(nv)
    pv = np.empty(nv)
    iz = np.empty(nv)
    for i in range(nv):
        z = vertices[i, 2]
        iz[i] = 1.0 / z if z > NEAR_MM else -1.0
        pu[i] = vertices[i, 0] * fx * iz[i] + cx
        pv[i] = vertices[i, 1] * fy * iz[i] + cy
    for k in range(triangles.shape[0]):
        a, b, c = triangles[k, 0], triangles[k, 1], triangles[k, 2]
        if iz[a] < 0.0 or iz[b] < 0.0 or iz[c] < 0.0:
            continue  # behind the near plane: hands are never that close
        ua, va, ub, vb, uc, vc = pu[a], pv[a], pu[b], pv[b], pu[c], pv[c]
        area = (ub - ua) * (vc - va) - (uc - ua) * (vb - va)
        if area == 0.0 or area * cull > 0.0:
            continue
        inv_area = 1.0 / area
        u0 = max(0, int(np.ceil(min(ua, min(ub, uc)))))
        u1 = min(width - 1, int(np.floor(max(ua, max(ub, uc)))))
        v0 = max(0, int(np.ceil(min(va, min(vb, vc)))))
        v1 = min(height - 1, int(np.floor(max(va, max(vb, vc)))))
        if u0 > u1 or v0 > v1:
            continue
        iza, izb, izc = iz[a], iz[b], iz[c]
        # Edge functions as linear functions of (u, v), normalised by the area so they are barycentrics.
        wa_u, wa_v = -(vc - vb) * inv_area, (uc - ub) * inv_area
        wb_u, wb_v = -(va - vc) * inv_area, (ua - uc) * inv_area
        wa_0 = ((ub - u0) * (vc - v0) - (uc - u0) * (vb - v0)) * inv_area
        wb_0 = ((uc - u0) * (va - v0) - (ua - u0) * (vc - v0)) * inv_area
        for v in range(v0, v1 + 1):
            dv = v - v0
            wa_row = wa_0 + wa_v * dv
            wb_row = wb_0 + wb_v * dv
            for u in range(u0, u1 + 1):
                du = u - u0
                wa = wa_row + wa_u * du
                wb = wb_row + wb_u * du
                wc = 1.0 - wa - wb
                if wa < 0.0 or wb < 0.0 or wc < 0.0:
                    continue
                depth = 1.0 / (wa * iza + wb * izb + wc * izc)
                if depth < zbuf[v, u]:
                    zbuf[v, u] = depth
                    ids[v, u] = id_offset + k


@_jit
def interpolate_normal(vertices, normals, triangles, k, dx, dy):
    """Unit normal at the point where the ray ``(dx, dy, 1)`` meets triangle ``k``: perspective-correct
    barycentric interpolation of the vertex normals."""
    a, b, c = triangles[k, 0], triangles[k, 1], triangles[k, 2]
    # Barycentrics of the ray's hit from the signed volumes of the ray with each edge.
    ex0, ey0, ez0 = vertices[b, 0] - vertices[a, 0], vertices[b, 1] - vertices[a, 1], vertices[b, 2] - vertices[a, 2]
    ex1, ey1, ez1 = vertices[c, 0] - vertices[a, 0], vertices[c, 1] - vertices[a, 1], vertices[c, 2] - vertices[a, 2]
    px, py, pz = dy * ez1 - ey1, ex1 - dx * ez1, dx * ey1 - dy * ex1
    det = ex0 * px + ey0 * py + ez0 * pz
    if det == 0.0:
        return normals[a, 0], normals[a, 1], normals[a, 2]
    sx, sy, sz = -vertices[a, 0], -vertices[a, 1], -vertices[a, 2]
    wb = (sx * px + sy * py + sz * pz) / det
    qx, qy, qz = sy * ez0 - sz * ey0, sz * ex0 - sx * ez0, sx * ey0 - sy * ex0
    wc = (dx * qx + dy * qy + qz) / det
    wa = 1.0 - wb - wc
    nx = wa * normals[a, 0] + wb * normals[b, 0] + wc * normals[c, 0]
    ny = wa * normals[a, 1] + wb * normals[b, 1] + wc * normals[c, 1]
    nz = wa * normals[a, 2] + wb * normals[b, 2] + wc * normals[c, 2]
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
    return nx / norm, ny / norm, nz / norm
