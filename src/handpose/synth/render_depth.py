"""Depth rendering: z-buffer of the scene, then uint16 millimetres with optional sensor effects."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from handpose.geometry import Camera
from handpose.synth import raycast


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
        speckle_drop: Probability that any hand or occluder pixel reads as missing.
    """

    base_sigma: float = 1.0
    quad_sigma: float = 1.4e-6
    quant_quad: float = 2.85e-6
    edge_jump: float = 12.0
    edge_drop: float = 0.5
    speckle_drop: float = 0.003

    @classmethod
    def sample(cls, rng: np.random.Generator) -> SensorNoise:
        return cls(
            base_sigma=float(rng.uniform(0.3, 2.0)),
            quad_sigma=float(rng.uniform(0.5e-6, 3.0e-6)),
            quant_quad=float(rng.choice([0.0, 2.85e-6])),
            edge_jump=float(rng.uniform(8.0, 20.0)),
            edge_drop=float(rng.uniform(0.1, 0.8)),
            speckle_drop=float(rng.uniform(0.0, 0.01)),
        )


def render_zbuffer(prims: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast ``prims`` for ``camera``.

    Returns:
        ``(H, W)`` float32 depth (inf = nothing hit) and ``(H, W)`` int32 primitive index (-1 = nothing).
    """
    zbuf = np.full((camera.height, camera.width), np.inf, dtype=np.float32)
    ids = np.full((camera.height, camera.width), -1, dtype=np.int32)
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
def _tables() -> tuple[np.ndarray, np.ndarray]:
    return raycast.noise_tables()


def depth_image(
    zbuf: np.ndarray, ids: np.ndarray, prims: np.ndarray, noise: SensorNoise | None, key: int = 0
) -> np.ndarray:
    """uint16 millimetres (0 = missing) from a z-buffer; ``noise=None`` rounds the exact depth.

    ``key`` picks where in the fixed noise tables this frame reads, so equal keys give equal noise.
    """
    n = noise if noise is not None else SensorNoise()
    gauss, uniform = _tables()
    size = gauss.shape[0]
    return raycast.depth_to_uint16(
        zbuf,
        ids,
        np.ascontiguousarray(prims, dtype=np.float64),
        gauss,
        uniform,
        int(key % size),
        int((key // size) % size),
        noise is not None,
        n.base_sigma,
        n.quad_sigma,
        n.quant_quad,
        n.edge_jump,
        n.edge_drop,
        n.speckle_drop,
    )
