"""Compiled RGB kernels (numba): the shaded frame with shadow lookups, and the sensor noise.

Shading is done in linear light: albedos and textures are converted from sRGB, lit, then encoded back
with a gamma of 2 (a cheap, close stand-in for the sRGB curve).
"""

from __future__ import annotations

import numba
import numpy as np

from handpose.synth.raster import interpolate_normal
from handpose.synth.raycast import LAYER_BACKGROUND, surface_normal

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
    background,
    light,
    light_colour,
    ambient,
    specular,
    shininess,
    fx,
    fy,
    cx,
    cy,
    shadow_map,
    shadow_frame,
    gain,
    contrast,
):
    """The frame in display values (0-1, float32): shaded surfaces with shadows over the background,
    white balance, exposure and contrast. :func:`finish_rgb` adds the sensor noise.

    Args:
        zbuf: Depth per pixel (inf = nothing hit).
        ids: Primitive per pixel (-1 = background); ids ``>= n`` are mesh triangles ``id - n``.
        prims: Primitive table (``n`` rows).
        vertices: ``(V, 3)`` camera-frame mesh vertices (may be empty).
        vertex_normals: ``(V, 3)`` unit vertex normals.
        triangles: ``(T, 3)`` int32 vertex indices.
        albedo: ``(n + 1, 3)`` linear colour of each primitive; the last row is the mesh's skin.
        background: ``(H, W, 3)`` linear texture: the far background, and the colour of background
            planes (a wall or table textured in image space).
        light: Unit direction the light travels (camera frame).
        light_colour: Linear RGB intensity of the directional light.
        ambient: Ambient intensity (same colour as the light).
        specular: Strength of the Blinn-Phong highlight on the hand.
        shininess: Its exponent.
        fx: Focal length along u.
        fy: Focal length along v.
        cx: Principal point u.
        cy: Principal point v.
        shadow_map: Hand depth along the light (see :func:`shadow_factor`); 1x1 = no shadows.
        shadow_frame: ``(12,)`` light-space axes a, b, the light direction, then origin a, b, depth
            offset, map cell size.
        gain: Per-channel gain (white balance and exposure).
        contrast: Contrast about mid-grey.
    """
    height, width = zbuf.shape
    num_prims = prims.shape[0]
    out = np.empty((height, width, 3), dtype=np.float32)
    colour = np.empty(3)
    for v in range(height):
        dy = (v - cy) / fy
        for u in range(width):
            k = ids[v, u]
            if k >= 0:
                z = zbuf[v, u]
                dx = (u - cx) / fx
                on_mesh = k >= num_prims
                if on_mesh:
                    nx, ny, nz = interpolate_normal(vertices, vertex_normals, triangles, k - num_prims, dx, dy)
                    k = num_prims
                else:
                    nx, ny, nz = surface_normal(prims, k, dx * z, dy * z, z)
                lam = -(nx * light[0] + ny * light[1] + nz * light[2])
                lam = max(lam, 0.0)
                layer = prims[k, 1] if k < num_prims else 1.0
                if not on_mesh and layer != 1.0 and lam > 0.0 and shadow_map.shape[0] > 1:
                    lam *= shadow_factor(shadow_map, shadow_frame, dx * z, dy * z, z)
                spec = 0.0
                if on_mesh and lam > 0.0:
                    # Blinn-Phong: half vector between the light and the direction to the camera.
                    norm = np.sqrt(dx * dx + dy * dy + 1.0)
                    hx, hy, hz = -light[0] - dx / norm, -light[1] - dy / norm, -light[2] - 1.0 / norm
                    hn = np.sqrt(hx * hx + hy * hy + hz * hz) + 1e-12
                    cos_h = max((nx * hx + ny * hy + nz * hz) / hn, 0.0)
                    spec = specular * cos_h**shininess
                for c in range(3):
                    base = background[v, u, c] if layer == LAYER_BACKGROUND else albedo[k, c]
                    colour[c] = base * (ambient + lam * light_colour[c]) + spec * light_colour[c]
            else:
                for c in range(3):
                    colour[c] = background[v, u, c] * (ambient + 0.6 * light_colour[c])
            for c in range(3):
                x = np.sqrt(max(colour[c] * gain[c], 0.0))  # linear -> display (gamma 2)
                out[v, u, c] = (x - 0.5) * contrast + 0.5
    return out


@_jit
def finish_rgb(image, gauss, offset_u, offset_v, sensor_sigma, shot_noise):
    """uint8 frame from display values: read noise plus shot noise growing with the signal's square root.

    Args:
        image: ``(H, W, 3)`` display values.
        gauss: Standard-normal table (square, power-of-two side).
        offset_u: Per-frame column offset into the table.
        offset_v: Per-frame row offset into the table.
        sensor_sigma: Signal-independent noise.
        shot_noise: Signal-dependent noise, ``sigma += shot_noise * sqrt(x)``.
    """
    height, width = image.shape[:2]
    mask = gauss.shape[0] - 1
    out = np.empty((height, width, 3), dtype=np.uint8)
    for v in range(height):
        tv = (v + offset_v) & mask
        for u in range(width):
            tu = (u + offset_u) & mask
            for c in range(3):
                x = image[v, u, c]
                x += (sensor_sigma + shot_noise * np.sqrt(max(x, 0.0))) * gauss[tv, (tu + 97 * (c + 1)) & mask]
                x = min(max(x, 0.0), 1.0)
                out[v, u, c] = np.uint8(x * 255.0 + 0.5)
    return out


SHADOW_DEPTH_OFFSET = 1.0e6  # light-space depths are stored this far out: the projection is then near-orthographic
SHADOW_BIAS_MM = 3.0


@_jit
def shadow_factor(shadow_map, frame, px, py, pz):
    """Fraction of the 3x3 map cells around the point ``p`` whose hand surface does not block the light.

    ``shadow_map`` holds, per cell of a grid across the light, the hand's nearest depth along the light
    plus ``SHADOW_DEPTH_OFFSET`` (inf where no hand), drawn by the triangle rasteriser with focal length
    ``SHADOW_DEPTH_OFFSET / cell`` so that the projection is orthographic to within 0.1 %. ``frame`` is
    the light-space axes a, b, the light direction, then the map's centre in a and b and its cell size.
    """
    a = px * frame[0] + py * frame[1] + pz * frame[2] - frame[9]
    b = px * frame[3] + py * frame[4] + pz * frame[5] - frame[10]
    depth = px * frame[6] + py * frame[7] + pz * frame[8] + SHADOW_DEPTH_OFFSET
    size = shadow_map.shape[0]
    focal = SHADOW_DEPTH_OFFSET / frame[11]
    fu = a * focal / depth + (size - 1) / 2.0
    fv = b * focal / depth + (size - 1) / 2.0
    if fu < -2.0 or fv < -2.0 or fu > size + 1.0 or fv > size + 1.0:
        return 1.0  # outside the hand's shadow footprint (most pixels)
    cu = int(np.rint(fu))
    cv = int(np.rint(fv))
    lit = 0.0
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            uu, vv = cu + du, cv + dv
            if uu < 0 or vv < 0 or uu >= size or vv >= size or shadow_map[vv, uu] >= depth - SHADOW_BIAS_MM:
                lit += 1.0
    return lit / 9.0
