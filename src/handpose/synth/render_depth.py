"""Depth rendering: z-buffer of the scene, then uint16 millimetres with optional sensor effects."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from handpose.geometry import Camera
from handpose.synth import depth_noise, raycast


@dataclass(frozen=True)
class SensorNoise:
    """Structured-light style depth errors (defaults roughly match a Kinect v1 at arm's length).

    Attributes:
        base_sigma: Depth-independent noise, mm.
        quad_sigma: Depth-dependent noise, ``sigma = base + quad * z**2`` (z in mm); Khoshelham & Elberink
            (2012) report ~1.4e-6 for the Kinect v1.
        quant_quad: Disparity quantisation step ``quant_quad * z**2`` mm (0 = off; ~2.9e-6 for Kinect v1).
        edge_jump: Depth jump (mm) to a nearer neighbour that marks a silhouette pixel.
        edge_drop: Probability that a silhouette pixel on the far side of a jump reads as missing.
        speckle_drop: Probability that any pixel reads as missing.
    """

    base_sigma: float = 1.0
    quad_sigma: float = 1.4e-6
    quant_quad: float = 2.85e-6
    edge_jump: float = 12.0
    edge_drop: float = 0.5
    speckle_drop: float = 0.003

    @classmethod
    def sample(cls, rng: np.random.Generator) -> SensorNoise:
        r = rng.random(6)  # one draw for all six strengths
        return cls(
            base_sigma=0.3 + 1.7 * float(r[0]),
            quad_sigma=0.5e-6 + 2.5e-6 * float(r[1]),
            quant_quad=2.85e-6 if r[2] < 0.5 else 0.0,
            edge_jump=8.0 + 12.0 * float(r[3]),
            edge_drop=0.1 + 0.7 * float(r[4]),
            speckle_drop=0.01 * float(r[5]),
        )


_scratch = threading.local()


def render_zbuffer(prims: np.ndarray, camera: Camera, reuse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast ``prims`` for ``camera``.

    Args:
        prims: Primitive table (:mod:`handpose.synth.raycast`).
        camera: Camera with a known image size.
        reuse: Render into this thread's scratch buffers instead of new arrays (faster for large images:
            no fresh pages to fault in). The result is then only valid until the thread's next call.

    Returns:
        ``(H, W)`` float32 depth (inf = nothing hit) and ``(H, W)`` int32 primitive index (-1 = nothing).
    """
    shape = (camera.height, camera.width)
    buffers = getattr(_scratch, "buffers", None) if reuse else None
    if buffers is not None and buffers[0].shape == shape:
        zbuf, ids = buffers
        zbuf.fill(np.inf)
        ids.fill(-1)
    else:
        zbuf = np.full(shape, np.inf, dtype=np.float32)
        ids = np.full(shape, -1, dtype=np.int32)
        if reuse:
            _scratch.buffers = (zbuf, ids)
    raycast.rasterize(
        np.ascontiguousarray(prims, dtype=np.float64),
        zbuf,
        ids,
        float(camera.fx),
        float(camera.fy),
        float(camera.cx),
        float(camera.cy),
    )
    return zbuf, ids


@functools.cache
def noise_table_pair() -> tuple[np.ndarray, np.ndarray]:
    """The process-wide (read-only) normal and uniform noise tables."""
    gauss, uniform = depth_noise.noise_tables()
    gauss.flags.writeable = False
    uniform.flags.writeable = False
    return gauss, uniform


def depth_image(zbuf: np.ndarray, noise: SensorNoise | None = None, key: int = 0) -> np.ndarray:
    """uint16 millimetres (0 = missing) from a z-buffer; ``noise=None`` rounds the exact depth.

    ``key`` picks where in the fixed noise tables this frame reads, so equal keys give equal noise.
    """
    n = noise if noise is not None else SensorNoise()
    gauss, uniform = noise_table_pair()
    rows, cols = gauss.shape
    if zbuf.shape[1] >= cols:
        # Images wider than the tables (rare): tile the tables so every row reads one contiguous run.
        reps = zbuf.shape[1] // cols + 2
        gauss, uniform = np.tile(gauss, (1, reps)), np.tile(uniform, (1, reps))
    # Column offsets that keep a whole image row inside one table row.
    span = max(cols - zbuf.shape[1], 1) if zbuf.shape[1] < cols else cols
    return depth_noise.depth_to_uint16(
        zbuf,
        gauss,
        uniform,
        int(key % span),
        int((key // span) % rows),
        noise is not None,
        n.base_sigma,
        n.quad_sigma,
        n.quant_quad,
        n.edge_jump,
        n.edge_drop,
        n.speckle_drop,
    )
