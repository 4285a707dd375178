"""Depth rendering: z-buffer of the scene, then uint16 millimetres through an optional sensor model."""

from __future__ import annotations

import functools
import threading

import numpy as np

from handpose.geometry import Camera
from handpose.synth import depth_noise, raycast
from handpose.synth.sensors import SensorModel

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


def depth_image(
    zbuf: np.ndarray,
    sensor: SensorModel | None = None,
    key: int = 0,
    focal: float = 500.0,
    side: float = 1.0,
    region: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """uint16 millimetres (0 = missing) from a z-buffer; ``sensor=None`` rounds the exact depth.

    Args:
        zbuf: Depth per pixel (inf = nothing hit).
        sensor: Sensor model (see :mod:`handpose.synth.sensors`), already sampled for this frame.
        key: Picks where in the fixed noise tables this frame reads: equal keys give equal noise.
        focal: Focal length of the camera, pixels (projector shadows, grazing angles).
        side: Side of the projector (+1: +x of the camera; structured light).
        region: Pixel rows v0-v1 and columns u0-u1 where thin structures (fingers) can be lost; the
            whole image when None.
    """
    if sensor is None:
        return depth_noise.exact_uint16(zbuf)
    gauss, uniform = noise_table_pair()
    rows, cols = gauss.shape
    if zbuf.shape[1] >= cols:
        # Images wider than the tables (rare): tile the tables so every row reads one contiguous run.
        reps = zbuf.shape[1] // cols + 2
        gauss, uniform = np.tile(gauss, (1, reps)), np.tile(uniform, (1, reps))
    # Column offsets that keep a whole image row inside one table row.
    span = max(cols - zbuf.shape[1], 1) if zbuf.shape[1] < cols else cols
    return depth_noise.sensor_depth(
        zbuf,
        gauss,
        uniform,
        int(key % span),
        int((key // span) % rows),
        sensor.vector(focal, side, region or (0, zbuf.shape[0], 0, zbuf.shape[1])),
    )
