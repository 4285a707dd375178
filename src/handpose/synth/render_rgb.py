"""RGB rendering: Lambert + ambient shading of skin and occluders over procedural backgrounds."""

from __future__ import annotations

import numpy as np

from handpose.geometry import Camera
from handpose.synth import raycast

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


def sample_albedo(rng: np.random.Generator, prims: np.ndarray, num_arm: int = 2) -> np.ndarray:
    """Per-primitive albedo: one jittered skin tone for the hand, maybe a sleeve, random occluder colours.

    Args:
        rng: Random generator.
        prims: Primitive table; hand rows first, the last ``num_arm`` hand rows being the forearm.
        num_arm: Number of forearm rows at the end of the hand block.
    """
    albedo = np.empty((prims.shape[0], 3))
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1) + rng.normal(0.0, 0.02, 3)
    hand_rows = np.flatnonzero(prims[:, 1] == raycast.LAYER_HAND)
    albedo[hand_rows] = tone
    if len(hand_rows) >= num_arm and rng.random() < 0.35:
        albedo[hand_rows[-num_arm:]] = rng.uniform(0.05, 0.95, 3)
    other = np.flatnonzero(prims[:, 1] != raycast.LAYER_HAND)
    albedo[other] = rng.uniform(0.05, 0.95, (len(other), 3))
    return np.clip(albedo, 0.0, 1.0)


def procedural_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Float RGB in [0, 1]: a two-colour gradient, a few random rectangles and discs, and grain."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = (np.cos(angle) * u / max(width, 1) + np.sin(angle) * v / max(height, 1)) * 0.5 + 0.5
    c0, c1 = rng.uniform(0.0, 1.0, (2, 3)).astype(np.float32)
    image = c0 + ramp[..., None] * (c1 - c0)
    for _ in range(int(rng.integers(0, 7))):
        colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        cu, cv = rng.uniform(0, width), rng.uniform(0, height)
        ru, rv = rng.uniform(0.03, 0.35) * width, rng.uniform(0.03, 0.35) * height
        if rng.random() < 0.5:
            mask = (np.abs(u - cu) < ru) & (np.abs(v - cv) < rv)
        else:
            mask = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 < 1.0
        image[mask] = colour
    grain = rng.uniform(0.0, 0.06)
    if grain > 0.0:
        image += rng.normal(0.0, grain, (height, width, 1)).astype(np.float32)
    return image


def shade(rng: np.random.Generator, zbuf: np.ndarray, ids: np.ndarray, prims: np.ndarray, camera: Camera) -> np.ndarray:
    """uint8 RGB image of the z-buffer over a procedural background, with lighting and colour jitter."""
    background = procedural_background(rng, camera.height, camera.width).astype(np.float64)
    albedo = sample_albedo(rng, prims)
    # Light from the camera side, somewhere in a cone of ~60 degrees around the view direction.
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), 1.0])
    light /= np.linalg.norm(light)
    ambient = float(rng.uniform(0.25, 0.55))
    image = raycast.shade_rgb(
        zbuf,
        ids,
        np.ascontiguousarray(prims),
        albedo,
        light,
        ambient,
        camera.fx,
        camera.fy,
        camera.cx,
        camera.cy,
        background,
    )
    # Colour jitter: per-channel gain, brightness, contrast, then sensor grain.
    gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.7, 1.3)
    contrast = rng.uniform(0.75, 1.25)
    image = (image * gain - 0.5) * contrast + 0.5
    image += rng.normal(0.0, rng.uniform(0.0, 0.03), image.shape)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
