"""RGB rendering: Lambert + ambient shading of skin and occluders over procedural backgrounds."""

from __future__ import annotations

import numpy as np

from handpose.geometry import Camera
from handpose.synth import compose, raycast
from handpose.synth.hand import HandGeometry

# Skin albedos from light to dark (sRGB 0-1), spanning the usual Fitzpatrick range.
SKIN_TONES = np.array(
    [
        [0.96, 0.80, 0.69],
        [0.92, 0.72, 0.58],
        [0.85, 0.63, 0.48],
        [0.76, 0.54, 0.39],
        [0.62, 0.42, 0.29],
        [0.47, 0.31, 0.21],
        [0.34, 0.22, 0.15],
    ]
)


def sample_albedo(rng: np.random.Generator, prims: np.ndarray, num_arm: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Per-primitive albedo: one jittered skin tone for the hand, maybe a sleeve, random occluder colours.

    Args:
        rng: Random generator.
        prims: Primitive table; hand rows first, the last ``num_arm`` hand rows being the forearm.
        num_arm: Number of forearm rows at the end of the hand block.

    Returns:
        ``(n, 3)`` albedo per primitive and the skin colour (for a mesh hand).
    """
    albedo = np.empty((prims.shape[0], 3))
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1) + rng.normal(0.0, 0.02, 3)
    hand_rows = np.flatnonzero(prims[:, 1] == raycast.LAYER_HAND)
    albedo[hand_rows] = tone
    sleeve = prims[:, 1] == raycast.LAYER_SLEEVE
    albedo[sleeve] = rng.uniform(0.05, 0.95, 3)
    other = np.flatnonzero((prims[:, 1] != raycast.LAYER_HAND) & ~sleeve)
    albedo[other] = rng.uniform(0.05, 0.95, (len(other), 3))
    return np.clip(albedo, 0.0, 1.0), np.clip(tone, 0.0, 1.0)


_NO_VERTICES = np.zeros((0, 3))
_NO_TRIANGLES = np.zeros((0, 3), dtype=np.int32)


def shade(
    rng: np.random.Generator,
    zbuf: np.ndarray,
    ids: np.ndarray,
    prims: np.ndarray,
    camera: Camera,
    geometry: HandGeometry | None = None,
) -> np.ndarray:
    """uint8 RGB image: shaded hand and occluders over a procedural background, with colour jitter.

    The background is a two-colour gradient in a random direction, up to six random boxes and ellipses,
    and a fine texture; lighting is Lambert + ambient from a random direction on the camera side; the
    jitter is a per-channel gain, a contrast change and sensor grain.
    """
    from handpose.synth.render_depth import noise_table_pair

    height, width = camera.height, camera.width
    albedo, skin = sample_albedo(rng, prims)
    albedo = np.vstack([albedo, skin[None]])  # the mesh's triangles (ids past the primitives)
    mesh = geometry is not None and geometry.vertices is not None
    vertices = geometry.vertices if mesh else _NO_VERTICES
    normals = geometry.normals if mesh else _NO_VERTICES
    triangles = geometry.triangles if mesh else _NO_TRIANGLES
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), 1.0])
    light /= np.linalg.norm(light)
    ambient = float(rng.uniform(0.25, 0.55))
    colour0, colour1 = rng.uniform(0.0, 1.0, (2, 3))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    # ramp(u, v) = 0.5 + 0.5 (cos a * u / W + sin a * v / H): 0..1 across the image.
    ramp_u, ramp_v = 0.5 * np.cos(angle) / max(width, 1), 0.5 * np.sin(angle) / max(height, 1)
    count = int(rng.integers(0, 7))
    shapes = np.empty((count, 8))
    for i in range(count):
        shapes[i, 0] = float(rng.random() < 0.5)
        shapes[i, 1:3] = rng.uniform(0, width), rng.uniform(0, height)
        shapes[i, 3:5] = rng.uniform(0.03, 0.35) * width + 0.5, rng.uniform(0.03, 0.35) * height + 0.5
        shapes[i, 5:8] = rng.uniform(0.0, 1.0, 3)
    gauss, _ = noise_table_pair()
    size = gauss.shape[0]  # compose_rgb wraps both table indices with this (power-of-two) size
    gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.7, 1.3)
    return compose.compose_rgb(
        zbuf,
        ids,
        np.ascontiguousarray(prims, dtype=np.float64),
        vertices,
        normals,
        triangles,
        albedo,
        light,
        ambient,
        float(camera.fx),
        float(camera.fy),
        float(camera.cx),
        float(camera.cy),
        colour0,
        colour1,
        ramp_u,
        ramp_v,
        0.5,
        shapes,
        float(rng.uniform(0.0, 0.06)),
        gauss,
        int(rng.integers(size)),
        int(rng.integers(size)),
        gain,
        float(rng.uniform(0.75, 1.25)),
        float(rng.uniform(0.0, 0.03)),
    )
