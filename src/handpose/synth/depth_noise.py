"""Compiled depth sensor kernels (numba): noise tables and the z-buffer to uint16 conversion.

Noise values come from fixed tables read at a per-frame offset (cheaper than drawing them, and
deterministic). The sensor models that choose which effects apply and how strong they are live in
:mod:`handpose.synth.sensors`; :func:`sensor_depth` applies them:

- structured light: the projector's shadow (background beside a nearer surface that the projector,
  ``baseline`` to one side of the camera, cannot light), lost thin structures (foreground runs
  narrower than the matching window), dropped silhouette pixels, axial noise growing with the square
  of the distance and disparity quantisation;
- time of flight and coded light: flying pixels (depth mixed between the two sides of a jump),
  dropouts at grazing angles, multipath (surfaces a little behind a nearer one read farther), axial
  noise and the working range;
- both: speckle dropouts. Missing readings are 0.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


NOISE_TABLE_ROWS = 1024  # power of two: row lookups wrap with a mask
NOISE_TABLE_COLS = 2048  # wide enough that a row of a 640-pixel image reads a contiguous run


def noise_tables(seed: int = 20261121) -> tuple[np.ndarray, np.ndarray]:
    """Fixed tables of standard-normal and uniform [0, 1) values that per-frame offsets index into.

    Looking noise up in a table is several times cheaper than drawing it per pixel; a random offset per
    frame (from the frame's own random stream) keeps frames different and fully deterministic.
    """
    rng = np.random.default_rng(seed)
    shape = (NOISE_TABLE_ROWS, NOISE_TABLE_COLS)
    return rng.standard_normal(shape, dtype=np.float32), rng.random(shape, dtype=np.float32)


# Parameter vector of sensor_depth (see handpose.synth.sensors.SensorModel.vector).
P_KIND, P_SIGMA_BASE, P_SIGMA_QUAD, P_SIGMA_Z0, P_QUANT = 0, 1, 2, 3, 4
P_EDGE_JUMP, P_EDGE_DROP, P_SPECKLE = 5, 6, 7
P_SHADOW_FB, P_SHADOW_SIDE, P_THIN_PX = 8, 9, 10
P_FLYING, P_MULTIPATH, P_MULTIPATH_RANGE, P_GRAZING_TAN, P_GRAZING_DROP = 11, 12, 13, 14, 15
P_NEAR, P_FAR, P_FOCAL = 16, 17, 18
P_REGION_V0, P_REGION_V1, P_REGION_U0, P_REGION_U1 = 19, 20, 21, 22  # where thin structures are searched
NUM_PARAMS = 23
STRUCTURED_LIGHT = 0


@_jit
def exact_uint16(zbuf):
    """uint16 millimetres of the exact depth (0 where nothing was hit or out of range)."""
    height, width = zbuf.shape
    out = np.zeros((height, width), dtype=np.uint16)
    for v in range(height):
        for u in range(width):
            x = zbuf[v, u]
            ok = (x >= np.float32(0.5)) & (x < np.float32(65535.5))
            out[v, u] = np.uint16(np.int32(x + np.float32(0.5))) if ok else np.uint16(0)
    return out


@_jit
def _projector_shadow(zbuf, keep, fb, side, jump):
    """Clear ``keep`` where the projector, ``fb / f`` mm to the ``side`` (+1 = +x) of the camera, is
    blocked by a nearer surface: scanning each row from the projector's side, a pixel whose projector
    column does not move past every nearer one seen so far is hidden from it."""
    height, width = zbuf.shape
    column = np.empty(width, dtype=np.float32)
    fb32 = np.float32(fb)
    sign = np.float32(side)
    for v in range(height):
        # Only a depth jump casts a shadow (slanted surfaces that shade themselves are left out).
        jumps = 0
        for u in range(1, width):
            jumps += abs(zbuf[v, u] - zbuf[v, u - 1]) > jump
        if jumps == 0:
            continue
        # Projector columns, signed so that they fall along the scan (u - fb/z for a projector at +x,
        # -(u + fb/z) at -x); divisions vectorise.
        for u in range(width):
            column[u] = sign * np.float32(u) - fb32 / zbuf[v, u]
        best = np.float32(np.inf)
        for i in range(width):
            u = width - 1 - i if side > 0 else i
            c = column[u]
            hidden = (c >= best) & (zbuf[v, u] < np.inf)
            keep[v, u] = keep[v, u] & ~hidden
            best = min(best, c) if zbuf[v, u] < np.inf else best


@_jit
def _close_run(zbuf, keep, line, start, end, jump, min_width, along_rows, lo, hi):
    """Clear ``keep`` on the run ``[start, end)`` of ``line`` if it is narrower than ``min_width`` and
    stands in front of both neighbours. Runs cut by the edge ``lo``/``hi`` of the searched region (other
    than the image's own edges) are of unknown width and stay."""
    inner = zbuf.shape[1] if along_rows else zbuf.shape[0]
    if end - start >= min_width or (start == lo and lo > 0) or (end == hi and hi < inner):
        return
    z = zbuf[line, start] if along_rows else zbuf[start, line]
    before = np.inf if start == 0 else (zbuf[line, start - 1] if along_rows else zbuf[start - 1, line])
    after = np.inf if end == inner else (zbuf[line, end] if along_rows else zbuf[end, line])
    if z < np.inf and before - z > jump and after - z > jump:
        for c in range(start, end):
            if along_rows:
                keep[line, c] = False
            else:
                keep[c, line] = False


@_jit
def _thin_structures(zbuf, keep, jump, min_width, v0, v1, u0, u1):
    """Clear ``keep`` on runs of similar depth narrower than ``min_width`` pixels (along rows or
    columns) that stand in front of both their neighbours: the matching window cannot resolve them.
    Only the region ``[v0, v1) x [u0, u1)`` (around the hand) is searched."""
    height, width = zbuf.shape
    v0, v1, u0, u1 = max(v0, 0), min(v1, height), max(u0, 0), min(u1, width)
    if v0 >= v1 or u0 >= u1:
        return
    jumps = np.zeros(width, dtype=np.bool_)
    for v in range(v0, v1):
        for u in range(u0 + 1, u1):
            jumps[u] = abs(zbuf[v, u] - zbuf[v, u - 1]) > jump  # vectorises; inf - inf is nan: no jump
        start = u0
        for u in range(u0 + 1, u1):
            if jumps[u]:
                _close_run(zbuf, keep, v, start, u, jump, min_width, True, u0, u1)
                start = u
        _close_run(zbuf, keep, v, start, u1, jump, min_width, True, u0, u1)
    # Columns: walk the rows in memory order, one open run per column.
    starts = np.full(width, v0, dtype=np.int64)
    for v in range(v0 + 1, v1):
        for u in range(u0, u1):
            jumps[u] = abs(zbuf[v, u] - zbuf[v - 1, u]) > jump
        for u in range(u0, u1):
            if jumps[u]:
                _close_run(zbuf, keep, u, starts[u], v, jump, min_width, False, v0, v1)
                starts[u] = v
    for u in range(u0, u1):
        _close_run(zbuf, keep, u, starts[u], v1, jump, min_width, False, v0, v1)


@_jit
def sensor_depth(zbuf, gauss, uniform, offset_u, offset_v, p):
    """uint16 millimetres (0 = missing) of the z-buffer seen through the sensor model ``p``.

    Every pixel gets noise, quantisation, range and speckle in loops that vectorise; the few pixels
    beside a depth edge or on a steep surface then get the edge effects one by one.

    Args:
        zbuf: Depth per pixel, inf where nothing was hit.
        gauss: Table of standard-normal values (rows a power of two, at least ``offset_u + W`` columns).
        uniform: Same-size table of uniform [0, 1) values.
        offset_u: Per-frame column offset into the tables.
        offset_v: Per-frame row offset into the tables.
        p: Parameter vector (``P_*`` indices).
    """
    height, width = zbuf.shape
    out = np.zeros((height, width), dtype=np.uint16)
    keep = np.ones((height, width), dtype=np.bool_)
    special = np.zeros(width, dtype=np.bool_)
    row_mask = gauss.shape[0] - 1
    structured = int(p[P_KIND]) == STRUCTURED_LIGHT
    jump = np.float32(p[P_EDGE_JUMP])
    if structured and p[P_SHADOW_FB] > 0.0:
        _projector_shadow(zbuf, keep, p[P_SHADOW_FB], p[P_SHADOW_SIDE], jump)
    if structured and p[P_THIN_PX] > 1.0:
        region = (int(p[P_REGION_V0]), int(p[P_REGION_V1]), int(p[P_REGION_U0]), int(p[P_REGION_U1]))
        _thin_structures(zbuf, keep, jump, p[P_THIN_PX], region[0], region[1], region[2], region[3])
    base, quad, z0 = np.float32(p[P_SIGMA_BASE]), np.float32(p[P_SIGMA_QUAD]), np.float32(p[P_SIGMA_Z0])
    quant = np.float32(p[P_QUANT])
    edge_drop = np.float32(p[P_EDGE_DROP])
    keep_speckle = np.float32(1.0 - p[P_SPECKLE])
    flying = np.float32(p[P_FLYING])
    multipath = np.float32(p[P_MULTIPATH])
    multipath_range = np.float32(p[P_MULTIPATH_RANGE])
    grazing = np.float32(p[P_GRAZING_TAN]) * np.float32(2.0) / np.float32(p[P_FOCAL])
    grazing_drop = np.float32(p[P_GRAZING_DROP])
    near, far = np.float32(p[P_NEAR]), np.float32(p[P_FAR])
    small_gap = np.float32(3.0)
    half, low, high = np.float32(0.5), np.float32(0.5), np.float32(65535.5)
    for v in range(height):
        tv = (v + offset_v) & row_mask
        tv2 = (v + offset_v + 331) & row_mask
        tv3 = (v + offset_v + 677) & row_mask
        first = 0
        while first < width and not zbuf[v, first] < np.inf:
            first += 1
        if first == width:
            continue  # nothing in this row
        # Noise, quantisation, range and speckle for every pixel (branch-free: vectorises).
        for u in range(width):
            z = zbuf[v, u]
            x = z + (base + quad * (z - z0) * (z - z0)) * gauss[tv, offset_u + u]
            # Disparity (proportional to 1 / z) comes in fixed steps: quant is the step of 1 / z.
            rounded = np.float32(1.0) / (np.float32(np.int32(np.float32(1.0) / (x * quant) + half)) * quant)
            x = rounded if quant > np.float32(0.0) else x
            ok = (z < np.inf) & keep[v, u] & (x >= near) & (x <= far) & (x >= low) & (x < high)
            ok &= uniform[tv, offset_u + u] <= keep_speckle
            out[v, u] = np.uint16(np.int32(x + half)) if ok else np.uint16(0)
        # Pixels beside a depth jump (or, for time of flight, on steep surfaces or just behind a nearer
        # surface) get the edge effects below.
        up = max(v - 1, 0)
        down = min(v + 1, height - 1)
        up2 = max(v - 2, 0)
        down2 = min(v + 2, height - 1)
        up4 = max(v - 4, 0)
        down4 = min(v + 4, height - 1)
        for u in range(4, width - 4):
            z = zbuf[v, u]
            left, right, above, below = zbuf[v, u - 1], zbuf[v, u + 1], zbuf[up, u], zbuf[down, u]
            nearest = min(min(left, right), min(above, below))
            edge = z - nearest > jump
            if not structured:
                farthest = max(max(left, right), max(above, below))
                nearest2 = min(min(zbuf[v, u - 2], zbuf[v, u + 2]), min(zbuf[up2, u], zbuf[down2, u]))
                nearest4 = min(min(zbuf[v, u - 4], zbuf[v, u + 4]), min(zbuf[up4, u], zbuf[down4, u]))
                nearest2 = min(nearest2, nearest4)
                steep = max(abs(right - left), abs(below - above)) > grazing * z
                edge |= (farthest - z > jump) | steep | (z - nearest2 > small_gap)
            special[u] = edge
        for u in range(4, width - 4):
            if not special[u] or out[v, u] == 0:
                continue
            z = zbuf[v, u]
            left, right, above, below = zbuf[v, u - 1], zbuf[v, u + 1], zbuf[up, u], zbuf[down, u]
            nearest = min(min(left, right), min(above, below))
            r2 = uniform[tv2, offset_u + u]
            r3 = uniform[tv3, offset_u + u]
            if z - nearest > jump and r2 < edge_drop:
                out[v, u] = 0  # the far side of a silhouette: shadowed or mixed returns
                continue
            if structured:
                continue
            x = z
            farthest = max(max(left, right), max(above, below))
            if (farthest - z > jump or z - nearest > jump) and r2 < flying:
                other = farthest if farthest - z > z - nearest else nearest
                if not other < np.inf:
                    out[v, u] = 0  # nothing behind within range: the mixed return is too weak
                    continue
                x = z + r3 * (other - z)
            elif max(abs(right - left), abs(below - above)) > grazing * z and r3 < grazing_drop:
                out[v, u] = 0  # grazing angle: too little light comes back
                continue
            if multipath > 0.0:
                # Light scattered by a nearer surface just in front makes this one read farther.
                count = 0
                for d in (2, 4):
                    for zz in (
                        zbuf[v, max(u - d, 0)],
                        zbuf[v, min(u + d, width - 1)],
                        zbuf[max(v - d, 0), u],
                        zbuf[min(v + d, height - 1), u],
                    ):
                        gap = z - zz
                        if small_gap < gap < multipath_range:
                            count += 1
                x += multipath * np.float32(count) / np.float32(8.0)
            x += (base + quad * (x - z0) * (x - z0)) * gauss[tv, offset_u + u]
            if near <= x <= far and low <= x < high:
                out[v, u] = np.uint16(np.int32(x + half))
            else:
                out[v, u] = 0
    return out
