"""Compiled RGB compositing (numba): shaded surfaces over a procedural background, colour jitter, grain."""

from __future__ import annotations

import numba
import numpy as np

from handpose.synth.raster import interpolate_normal
from handpose.synth.raycast import surface_normal

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def compose_rgb(
    zbuf,
    ids,
    prims,
    vertices,
    vertex_normals,
    triangles,
    albedo,
    light,
    ambient,
    fx,
    fy,
    cx,
    cy,
    colour0,
    colour1,
    ramp_u,
    ramp_v,
    ramp_0,
    shapes,
    grain,
    gauss,
    offset_u,
    offset_v,
    gain,
    contrast,
    sensor_sigma,
):
    """The final uint8 RGB frame in one pass: background, shaded surfaces, colour jitter and grain.

    Args:
        zbuf: Depth per pixel (inf = nothing hit).
        ids: Primitive per pixel (-1 = background).
        prims: Primitive table (``n`` rows).
        vertices: ``(V, 3)`` camera-frame mesh vertices (ids ``>= n`` are its triangles; may be empty).
        vertex_normals: ``(V, 3)`` unit vertex normals.
        triangles: ``(T, 3)`` int32 vertex indices.
        albedo: ``(n + 1, 3)`` colour of each primitive in [0, 1]; the last row is the mesh's.
        light: Unit direction the light travels (camera frame).
        ambient: Ambient fraction of the lighting.
        fx: Focal length along u.
        fy: Focal length along v.
        cx: Principal point u.
        cy: Principal point v.
        colour0: Background gradient colour where the ramp is 0.
        colour1: Background gradient colour where the ramp is 1.
        ramp_u: Ramp change per column.
        ramp_v: Ramp change per row.
        ramp_0: Ramp value at pixel (0, 0).
        shapes: ``(m, 8)`` background shapes: kind (0 box, 1 ellipse), centre u, v, half sizes u, v, RGB.
        grain: Background texture amplitude.
        gauss: Standard-normal table (square, power-of-two side).
        offset_u: Per-frame column offset into the table.
        offset_v: Per-frame row offset into the table.
        gain: Per-channel gain (white balance and brightness).
        contrast: Contrast about mid-grey.
        sensor_sigma: Per-pixel sensor noise after jitter.
    """
    height, width = zbuf.shape
    num_prims = prims.shape[0]
    mask = gauss.shape[0] - 1
    out = np.empty((height, width, 3), dtype=np.uint8)
    colour = np.empty(3)
    for v in range(height):
        dy = (v - cy) / fy
        tv = (v + offset_v) & mask
        tv2 = (v + offset_v + 331) & mask
        for u in range(width):
            tu = (u + offset_u) & mask
            k = ids[v, u]
            if k >= 0:
                z = zbuf[v, u]
                dx = (u - cx) / fx
                if k < num_prims:
                    nx, ny, nz = surface_normal(prims, k, dx * z, dy * z, z)
                else:
                    nx, ny, nz = interpolate_normal(vertices, vertex_normals, triangles, k - num_prims, dx, dy)
                    k = num_prims
                lam = -(nx * light[0] + ny * light[1] + nz * light[2])
                if lam < 0.0:
                    lam = 0.0
                shade = ambient + (1.0 - ambient) * lam
                for c in range(3):
                    colour[c] = albedo[k, c] * shade
            else:
                ramp = ramp_0 + ramp_u * u + ramp_v * v
                for c in range(3):
                    colour[c] = colour0[c] + ramp * (colour1[c] - colour0[c])
                for i in range(shapes.shape[0]):
                    du = (u - shapes[i, 1]) / shapes[i, 3]
                    dv = (v - shapes[i, 2]) / shapes[i, 4]
                    box = shapes[i, 0] == 0.0
                    if (box and abs(du) < 1.0 and abs(dv) < 1.0) or (not box and du * du + dv * dv < 1.0):
                        for c in range(3):
                            colour[c] = shapes[i, 5 + c]
                texture = grain * gauss[tv, tu]
                for c in range(3):
                    colour[c] += texture
            for c in range(3):
                x = (colour[c] * gain[c] - 0.5) * contrast + 0.5
                x += sensor_sigma * gauss[tv2, (tu + 97 * (c + 1)) & mask]
                if x < 0.0:
                    x = 0.0
                elif x > 1.0:
                    x = 1.0
                out[v, u, c] = np.uint8(x * 255.0 + 0.5)
    return out
