"""RGB rendering: skin, light, shadows and procedural backgrounds, then camera effects.

A frame draws a skin tone from the Monk Skin Tone scale (its ten tones span light to dark skin; any
point between two neighbouring tones can be drawn), a directional light from the camera's side with a
colour temperature, ambient light and a specular highlight on the skin, a procedural background
(fractal noise, warped stripes or checks, or a gradient, with flat boxes and ellipses), shadows of the (mesh) hand
on nearby surfaces, then motion blur, defocus, white balance, exposure and contrast jitter, sensor
noise and JPEG compression, each at its own odds.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from handpose.geometry import Camera
from handpose.synth import compose, raster, raycast
from handpose.synth.hand import HandGeometry

# Monk Skin Tone scale (Monk 2019; the ten published sRGB swatches, MST-1 lightest to MST-10 darkest).
MONK_SKIN_TONES = (
    "f6ede4",
    "f3e7db",
    "f7ead0",
    "eadaba",
    "d7bd96",
    "a07e56",
    "825c43",
    "604134",
    "3a312a",
    "292420",
)
SKIN_TONES = np.array([[int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4)] for h in MONK_SKIN_TONES])
SHADOW_MAP_SIZE = 96
MOTION_BLUR_PROB, DEFOCUS_PROB, JPEG_PROB = 0.25, 0.25, 0.5

_NO_VERTICES = np.zeros((0, 3))
_NO_TRIANGLES = np.zeros((0, 3), dtype=np.int32)
_NO_SHADOW = np.full((1, 1), np.inf, dtype=np.float32)


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """Display values to linear light (gamma 2, the inverse of the encoding in :mod:`compose`)."""
    return np.square(np.clip(srgb, 0.0, 1.0))


def sample_skin(rng: np.random.Generator) -> np.ndarray:
    """A display-space skin colour anywhere along the Monk scale, with a little brightness and hue jitter."""
    r = rng.random(5)  # one draw: position on the scale, brightness, three channel tints
    position = 9.0 * float(r[0])
    low = int(position)
    high = min(low + 1, 9)
    tone = SKIN_TONES[low] + (position - low) * (SKIN_TONES[high] - SKIN_TONES[low])
    return np.clip(tone * (0.92 + 0.16 * r[1]) + 0.03 * (r[2:5] - 0.5), 0.0, 1.0)


def sample_albedo(rng: np.random.Generator, prims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear albedo per primitive (skin for hand rows, cloth for sleeves, random for the rest) and the
    skin's linear albedo (for a mesh hand)."""
    skin = to_linear(sample_skin(rng))
    albedo = np.empty((prims.shape[0], 3))
    hand = prims[:, 1] == raycast.LAYER_HAND
    albedo[hand] = skin
    # Drawn for the other rows only: the same scene gets the same colours with either hand model.
    albedo[~hand] = to_linear(rng.uniform(0.05, 0.95, (int((~hand).sum()), 3)))
    return albedo, skin


PATTERNS = ("noise", "stripes", "checker", "gradient")


def _fractal_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Three octaves of value noise (random grids upsampled bilinearly), about 0..1."""
    total = np.zeros((height, width), dtype=np.float32)
    amplitude = 0.5
    for octave in range(3):
        size = cell / 2**octave
        grid = rng.random((int(height / size) + 2, int(width / size) + 2)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)
        amplitude /= 2
    return total / 0.875


@functools.cache
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    v.flags.writeable = False
    u.flags.writeable = False
    return v, u


def sample_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A procedural ``(H, W, 3)`` float32 linear texture: fractal noise, warped stripes, warped checks
    or a gradient between two colours, with flat boxes and ellipses painted on top. Drawn at half
    resolution and upsampled (textures are smooth; this halves the cost of a 256x256 frame)."""
    full = (width, height)
    width, height = max(width // 2, 1), max(height // 2, 1)
    pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
    colour0, colour1 = to_linear(rng.uniform(0.0, 1.0, (2, 3))).astype(np.float32)
    noise = _fractal_noise(rng, width, height, max(width, height) / rng.uniform(1.5, 6.0))
    angle, period, warp = rng.uniform(0.0, np.pi), rng.uniform(3.0, 20.0), rng.uniform(0.0, 12.0)
    v, u = _pixel_grid(height, width)
    along = u * np.float32(np.cos(angle)) + v * np.float32(np.sin(angle))
    if pattern == "noise":
        t = noise
    elif pattern == "stripes":
        t = 0.5 + 0.5 * np.sin((along + warp * noise) * np.float32(2 * np.pi / period))
    elif pattern == "checker":
        across = v * np.float32(np.cos(angle)) - u * np.float32(np.sin(angle))
        parity = (np.floor((along + warp * noise) / period) + np.floor((across + warp * noise) / period)) % 2
        t = 0.15 + 0.7 * parity + 0.15 * noise
    else:
        t = 0.8 * (0.5 + (along - along.mean()) / max(width, height)) + 0.2 * noise
    # Channel planes merged by OpenCV: several times faster than broadcasting over a last axis of 3.
    t = t.astype(np.float32)
    texture = cv2.merge([colour0[c] + t * (colour1[c] - colour0[c]) for c in range(3)])
    for _ in range(int(rng.integers(0, 6))):
        r = rng.random(7)
        cu, cv_ = r[0] * width, r[1] * height
        hu, hv = (0.03 + 0.27 * r[2]) * width + 0.5, (0.03 + 0.27 * r[3]) * height + 0.5
        colour = to_linear(r[4:7]).astype(np.float32)
        u0, u1 = max(int(cu - hu), 0), min(int(cu + hu) + 1, width)
        v0, v1 = max(int(cv_ - hv), 0), min(int(cv_ + hv) + 1, height)
        if u0 >= u1 or v0 >= v1:
            continue
        region = (slice(v0, v1), slice(u0, u1))
        shade = (0.85 + 0.3 * noise[region])[..., None] * colour
        if rng.random() < 0.5:
            texture[region] = shade
        else:
            inside = ((u[region] - cu) / hu) ** 2 + ((v[region] - cv_) / hv) ** 2 < 1.0
            texture[region] = np.where(inside[..., None], shade, texture[region])
    return cv2.resize(texture, full, interpolation=cv2.INTER_LINEAR)


def shadow_map(geometry: HandGeometry | None, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh hand's depth along the light on a grid across it, and the frame that maps points onto
    that grid (see :func:`compose.shadow_factor`); a 1x1 map (no shadows) for capsule hands."""
    if geometry is None or geometry.vertices is None:
        return _NO_SHADOW, np.zeros(12)
    a = np.cross(light, [0.0, 1.0, 0.0] if abs(light[1]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(light, a)
    along = geometry.vertices @ np.stack([a, b, light], axis=1)
    lo, hi = along[:, :2].min(axis=0), along[:, :2].max(axis=0)
    centre = (lo + hi) / 2.0
    cell = float(max(hi - lo) * 1.1 / SHADOW_MAP_SIZE) + 1e-6
    local = np.column_stack(
        [along[:, 0] - centre[0], along[:, 1] - centre[1], along[:, 2] + compose.SHADOW_DEPTH_OFFSET]
    )
    depth = np.full((SHADOW_MAP_SIZE, SHADOW_MAP_SIZE), np.inf, dtype=np.float32)
    ids = np.full(depth.shape, -1, dtype=np.int32)
    focal = compose.SHADOW_DEPTH_OFFSET / cell
    middle = (SHADOW_MAP_SIZE - 1) / 2.0
    raster.rasterize_triangles(local, geometry.triangles, depth, ids, 0, focal, focal, middle, middle)
    frame = np.concatenate([a, b, light, centre, [cell]])
    return depth, frame


def _motion_kernel(rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(3, 10))
    angle = rng.uniform(0.0, np.pi)
    kernel = np.zeros((length, length), dtype=np.float32)
    c = (length - 1) / 2.0
    d = np.array([np.cos(angle), np.sin(angle)]) * c
    cv2.line(kernel, (round(c - d[0]), round(c - d[1])), (round(c + d[0]), round(c + d[1])), 1.0, 1)
    return kernel / kernel.sum()


def shade(
    rng: np.random.Generator,
    zbuf: np.ndarray,
    ids: np.ndarray,
    prims: np.ndarray,
    camera: Camera,
    geometry: HandGeometry | None = None,
) -> np.ndarray:
    """uint8 RGB image of the rendered scene (see the module docstring for what varies per frame)."""
    from handpose.synth.render_depth import noise_table_pair

    height, width = camera.height, camera.width
    albedo, skin = sample_albedo(rng, prims)
    albedo = np.vstack([albedo, skin[None]])  # the mesh's triangles (ids past the primitives)
    vertices, normals, triangles = _NO_VERTICES, _NO_VERTICES, _NO_TRIANGLES
    if geometry is not None and geometry.vertices is not None:
        assert geometry.normals is not None and geometry.triangles is not None
        vertices, normals, triangles = geometry.vertices, geometry.normals, geometry.triangles
    light = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-0.9, 0.9), 1.0])
    light /= np.linalg.norm(light)
    # Colour temperature: warm (tungsten) to cool (shade) light, as a red-blue tint.
    tint = rng.uniform(-0.25, 0.25)
    light_colour = rng.uniform(0.6, 1.1) * np.array([1.0 + tint, 1.0, 1.0 - tint])
    smap, sframe = shadow_map(geometry, light)
    background = sample_background(rng, width, height)
    gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.7, 1.3)
    image = compose.compose_rgb(
        zbuf,
        ids,
        np.ascontiguousarray(prims, dtype=np.float64),
        vertices,
        normals,
        triangles,
        albedo,
        background,
        light,
        light_colour,
        float(rng.uniform(0.25, 0.55)),
        float(rng.uniform(0.03, 0.25)),
        float(rng.uniform(5.0, 40.0)),
        float(camera.fx),
        float(camera.fy),
        float(camera.cx),
        float(camera.cy),
        smap,
        sframe,
        gain,
        float(rng.uniform(0.8, 1.2)),
    )
    r = rng.random(3)  # one draw for the odds of the three optical effects
    if r[0] < MOTION_BLUR_PROB:
        image = cv2.filter2D(image, -1, _motion_kernel(rng), borderType=cv2.BORDER_REFLECT)
    if r[1] < DEFOCUS_PROB:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 1.6)))
    gauss, _ = noise_table_pair()
    size = gauss.shape[0]  # finish_rgb wraps both table indices with this (power-of-two) size
    out = compose.finish_rgb(
        np.ascontiguousarray(image),
        gauss,
        int(rng.integers(size)),
        int(rng.integers(size)),
        float(rng.uniform(0.0, 0.025)),
        float(rng.uniform(0.0, 0.04)),
    )
    if r[2] < JPEG_PROB:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out
