"""Compiled depth sensor kernels (numba): noise tables and the z-buffer to uint16 conversion.

Noise values come from fixed tables read at a per-frame offset (cheaper than drawing them, and
deterministic); the sensor models that pick the strengths live in :mod:`handpose.synth.render_depth`.
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


@_jit
def depth_to_uint16(
    zbuf,
    gauss,
    uniform,
    offset_u,
    offset_v,
    noise,
    noise_base,
    noise_quad,
    quant_quad,
    edge_jump,
    edge_drop,
    speckle_drop,
):
    """Turn the z-buffer into uint16 millimetres with optional sensor effects.

    Args:
        zbuf: Depth per pixel, inf where nothing was hit.
        gauss: Table of standard-normal values (rows a power of two, at least ``offset_u + W`` columns).
        uniform: Same-size table of uniform [0, 1) values.
        offset_u: Per-frame column offset into the tables.
        offset_v: Per-frame row offset into the tables.
        noise: Apply sensor effects at all.
        noise_base: Depth-independent noise sigma, mm.
        noise_quad: Depth-dependent sigma coefficient, ``sigma += noise_quad * z**2``.
        quant_quad: Disparity quantisation step coefficient, ``step = quant_quad * z**2`` (mm).
        edge_jump: Depth jump (mm) to a nearer neighbour that marks a silhouette pixel.
        edge_drop: Probability of dropping a silhouette pixel on the far side of a jump.
        speckle_drop: Probability of dropping any pixel.
    """
    height, width = zbuf.shape
    out = np.zeros((height, width), dtype=np.uint16)
    row_mask = gauss.shape[0] - 1
    value = np.empty(width, dtype=np.float32)
    base = np.float32(noise_base)
    quad = np.float32(noise_quad)
    quant = np.float32(quant_quad)
    jump = np.float32(edge_jump)
    drop = np.float32(edge_drop)
    keep = np.float32(1.0 - speckle_drop)
    missing = np.float32(1e30)
    # Plain 2-D indexing in simple loops (no row views, no helper calls) is what LLVM vectorises best.
    for v in range(height):
        # Rows with no hit at all (most of an empty-background frame) need no work. Rows with a hit are
        # processed whole: loops over the constant range vectorise, loops over a data-dependent run of
        # columns did not (several times slower).
        first = 0
        while first < width and zbuf[v, first] > missing:
            first += 1
        if first == width:
            continue
        if not noise:
            for u in range(width):
                x = zbuf[v, u]
                ok = (x >= np.float32(0.5)) & (x < np.float32(65535.5))
                out[v, u] = np.uint16(np.int32(x + np.float32(0.5))) if ok else np.uint16(0)
            continue
        tv = (v + offset_v) & row_mask
        up = max(v - 1, 0)
        down = min(v + 1, height - 1)
        for u in range(width):
            z = zbuf[v, u]
            value[u] = z + (base + quad * z * z) * gauss[tv, offset_u + u]
        if quant_quad > 0.0:
            for u in range(width):
                z = value[u]
                step = quant * z * z
                # Truncating a positive number rounds it after the +0.5 (floor() would stop vectorisation).
                quantised = np.float32(np.int32(z / step + np.float32(0.5))) * step
                value[u] = quantised if step > np.float32(1.0) else z
        for u in range(1, width - 1):
            z = zbuf[v, u]
            nearest = min(min(zbuf[up, u], zbuf[down, u]), min(zbuf[v, u - 1], zbuf[v, u + 1]))
            r = uniform[tv, offset_u + u]
            # Silhouette shadow: the far side of a depth jump; speckle: anywhere.
            dropped = ((z - nearest > jump) & (r < drop)) | (r > keep)
            x = value[u]
            ok = (z < missing) & (x >= np.float32(0.5)) & (x < np.float32(65535.5)) & ~dropped
            out[v, u] = np.uint16(np.int32(x + np.float32(0.5))) if ok else np.uint16(0)
        for u in (0, width - 1):
            z = zbuf[v, u]
            nearest = min(zbuf[up, u], zbuf[down, u])
            if u > 0:
                nearest = min(nearest, zbuf[v, u - 1])
            if u + 1 < width:
                nearest = min(nearest, zbuf[v, u + 1])
            r = uniform[tv, offset_u + u]
            dropped = ((z - nearest > jump) and (r < drop)) or (r > keep)
            x = value[u]
            if z < missing and 0.5 <= x < 65535.5 and not dropped:
                out[v, u] = np.uint16(np.int32(x + np.float32(0.5)))
    return out
