"""Heatmap targets and their decoding, for numpy arrays and torch tensors alike.

Coordinate convention (shared with :mod:`handpose.transforms.depth` and ``joints_crop`` in
:mod:`handpose.batch`): joint positions are crop coordinates normalised to [-1, 1] *across the
crop*, ``u = -1`` at the left edge of the first pixel column and ``u = +1`` at the right edge of the
last one (likewise ``v`` top to bottom). A heatmap of ``size`` pixels therefore has pixel ``i``
centred at ``u = (i + 0.5) * 2 / size - 1``, whatever its resolution; :func:`uv_to_pixels` and
:func:`pixels_to_uv` convert.

Two target kinds:

- :func:`gaussian_heatmaps`: an unnormalised Gaussian per joint, value 1 exactly at the joint.
- :func:`crossinfonet_heatmaps`: CrossInfoNet's targets (``util/preprocess.py joints_heatmap_gen``):
  a one-hot pixel blurred by OpenCV's 3x3 Gaussian (sigma from the kernel size, weights
  1/4, 1/2, 1/4) and rescaled so the peak is 1 — i.e. 1 at the pixel, 0.5 beside, 0.25 diagonal.

Joints with a non-finite coordinate get an all-zero map.

Training targets: a loss that supervises heatmaps names the kind it wants in its
``heatmap_targets`` attribute (a :class:`HeatmapTargets`); the training step calls
:func:`with_heatmap_targets`, which renders one target set per heatmap resolution the model outputs
from ``batch["joints_crop"]`` and adds it to the batch as ``batch["heatmap_targets"][side]``. Losses
read the targets there and render nothing themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Array = Any  # numpy.ndarray or torch.Tensor; the result has the input's type


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def uv_to_pixels(uv: Array, size: int) -> Array:
    """Normalised crop coordinates -> pixel coordinates of a ``size``-pixel map (pixel centres at integers)."""
    return (uv + 1.0) * (size / 2.0) - 0.5


def pixels_to_uv(pixels: Array, size: int) -> Array:
    """Exact inverse of :func:`uv_to_pixels`."""
    return (pixels + 0.5) * (2.0 / size) - 1.0


def _axis_profiles(uv: Array, size: int) -> tuple[Array, Array, Array]:
    """Per-joint signed distances (in map pixels) from every column and row centre, and a finite mask."""
    pix: Any
    grid: Any
    finite: Any
    if _is_torch(uv):
        import torch

        pix = uv_to_pixels(uv.detach().to(torch.float32), size)
        grid = torch.arange(size, dtype=torch.float32, device=uv.device)
        finite = torch.isfinite(pix).all(dim=-1)
        pix = torch.where(finite[..., None], pix, torch.zeros_like(pix))
    else:
        pix = uv_to_pixels(np.asarray(uv, dtype=np.float32), size)
        grid = np.arange(size, dtype=np.float32)
        finite = np.isfinite(pix).all(axis=-1)
        pix = np.where(finite[..., None], pix, 0.0).astype(np.float32)
    dx = grid - pix[..., 0:1]  # (..., J, size)
    dy = grid - pix[..., 1:2]
    return dx, dy, finite


def _check(uv: Array, size: int) -> None:
    if uv.shape[-1] != 2:
        raise ValueError(f"uv must end in 2 coordinates, got shape {tuple(uv.shape)}")
    if int(size) < 1:
        raise ValueError(f"heatmap size must be positive, got {size}")


def gaussian_heatmaps(uv: Array, size: int, sigma: float = 1.0) -> Array:
    """Gaussian target maps, one per joint.

    Args:
        uv: ``(..., J, 2)`` normalised crop coordinates (see the module docstring).
        size: Side of the square maps in pixels.
        sigma: Standard deviation in map pixels.

    Returns:
        ``(..., J, size, size)`` float32 maps, ``exp(-r^2 / (2 sigma^2))`` with ``r`` the distance in map
        pixels from the joint: 1 at the joint itself (so the largest pixel is 1 only when the joint
        sits on a pixel centre); all zero for non-finite joints.
    """
    _check(uv, size)
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    dx, dy, finite = _axis_profiles(uv, size)
    if _is_torch(uv):
        gx = (-(dx**2) / (2 * sigma**2)).exp() * finite[..., None]
        gy = (-(dy**2) / (2 * sigma**2)).exp() * finite[..., None]
    else:
        gx = np.exp(-(dx**2) / (2 * sigma**2)) * finite[..., None]
        gy = np.exp(-(dy**2) / (2 * sigma**2)) * finite[..., None]
    # Separable: map[y, x] = gy[y] * gx[x].
    return gy[..., :, None] * gx[..., None, :]


def crossinfonet_heatmaps(uv: Array, size: int = 24) -> Array:
    """CrossInfoNet-style targets: one-hot at the nearest pixel, 3x3 Gaussian blur, peak rescaled to 1.

    Args:
        uv: ``(..., J, 2)`` normalised crop coordinates.
        size: Side of the maps (24 in the reference, from 96-pixel crops).

    Returns:
        ``(..., J, size, size)`` float32; a joint outside the map, or non-finite, gives zeros.
    """
    _check(uv, size)
    dx, dy, finite = _axis_profiles(uv, size)
    # The nearest pixel centre is where |d| <= 0.5; take the one with the rounded coordinate.
    grid: Any
    wx: Any
    wy: Any
    if _is_torch(uv):
        import torch

        col = torch.round(-dx[..., :1] + 0.0)  # (..., J, 1): -dx at grid 0 is the pixel coordinate
        row = torch.round(-dy[..., :1] + 0.0)
        grid = torch.arange(size, dtype=torch.float32, device=uv.device)
        ox, oy = (grid - col).abs(), (grid - row).abs()
        wx = torch.where(ox == 0, 1.0, torch.where(ox == 1, 0.5, 0.0))
        wy = torch.where(oy == 0, 1.0, torch.where(oy == 1, 0.5, 0.0))
        inside = (col[..., 0] >= 0) & (col[..., 0] < size) & (row[..., 0] >= 0) & (row[..., 0] < size) & finite
        wx = wx * inside[..., None]
    else:
        col = np.round(-dx[..., :1])
        row = np.round(-dy[..., :1])
        grid = np.arange(size, dtype=np.float32)
        ox, oy = np.abs(grid - col), np.abs(grid - row)
        wx = np.where(ox == 0, 1.0, np.where(ox == 1, 0.5, 0.0)).astype(np.float32)
        wy = np.where(oy == 0, 1.0, np.where(oy == 1, 0.5, 0.0)).astype(np.float32)
        inside = (col[..., 0] >= 0) & (col[..., 0] < size) & (row[..., 0] >= 0) & (row[..., 0] < size) & finite
        wx = wx * inside[..., None]
    return wy[..., :, None] * wx[..., None, :]


def heatmap_argmax(heatmaps: Array, subpixel: bool = False) -> tuple[Array, Array]:
    """Decode maps by their maximum (no soft-argmax).

    Args:
        heatmaps: ``(..., J, H, W)`` maps.
        subpixel: Move a quarter pixel from the maximum towards its larger neighbour on each axis
            (the usual refinement of hard-argmax decoding).

    Returns:
        ``(uv, peak)``: ``(..., J, 2)`` normalised crop coordinates (u from the width, v from the
        height) and ``(..., J)`` the maximum value.
    """
    if _is_torch(heatmaps):
        return _argmax_torch(heatmaps, subpixel)
    return _argmax_numpy(np.asarray(heatmaps), subpixel)


def _argmax_torch(heatmaps: Any, subpixel: bool) -> tuple[Any, Any]:
    import torch

    h, w = heatmaps.shape[-2], heatmaps.shape[-1]
    flat = heatmaps.detach().reshape(*heatmaps.shape[:-2], h * w)
    peak, idx = flat.max(dim=-1)
    row = torch.div(idx, w, rounding_mode="floor")
    col = idx - row * w
    x, y = col.to(torch.float32), row.to(torch.float32)
    if subpixel:
        maps = heatmaps.detach()
        r, c = row.clamp(1, h - 2) if h > 2 else row, col.clamp(1, w - 2) if w > 2 else col

        def at(rr: Any, cc: Any) -> Any:
            return torch.gather(maps.reshape(*maps.shape[:-2], h * w), -1, (rr * w + cc)[..., None])[..., 0]

        if w > 2:
            gx = at(row, c + 1) - at(row, c - 1)
            inner = (col > 0) & (col < w - 1)
            x = x + torch.where(inner, 0.25 * torch.sign(gx), torch.zeros_like(x))
        if h > 2:
            gy = at(r + 1, col) - at(r - 1, col)
            inner = (row > 0) & (row < h - 1)
            y = y + torch.where(inner, 0.25 * torch.sign(gy), torch.zeros_like(y))
    uv = torch.stack([pixels_to_uv(x, w), pixels_to_uv(y, h)], dim=-1)
    return uv, peak


def _argmax_numpy(maps: np.ndarray, subpixel: bool) -> tuple[np.ndarray, np.ndarray]:
    h, w = maps.shape[-2], maps.shape[-1]
    flat = maps.reshape(*maps.shape[:-2], h * w)
    idx = flat.argmax(axis=-1)
    peak = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    row, col = np.divmod(idx, w)
    x, y = col.astype(np.float32), row.astype(np.float32)
    if subpixel:

        def at(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
            return np.take_along_axis(flat, (rr * w + cc)[..., None], axis=-1)[..., 0]

        if w > 2:
            c = np.clip(col, 1, w - 2)
            inner = (col > 0) & (col < w - 1)
            x = x + np.where(inner, 0.25 * np.sign(at(row, c + 1) - at(row, c - 1)), 0.0)
        if h > 2:
            r = np.clip(row, 1, h - 2)
            inner = (row > 0) & (row < h - 1)
            y = y + np.where(inner, 0.25 * np.sign(at(r + 1, col) - at(r - 1, col)), 0.0)
    uv = np.stack([pixels_to_uv(x, w), pixels_to_uv(y, h)], axis=-1).astype(np.float32)
    return uv, peak


@dataclass(frozen=True)
class HeatmapTargets:
    """Which heatmap targets a loss supervises.

    Attributes:
        kind: ``"gaussian"`` (:func:`gaussian_heatmaps`) or ``"crossinfonet"`` (:func:`crossinfonet_heatmaps`).
        sigma: Gaussian sigma in pixels of the model's main map (``outputs["heatmaps"]``); a map of
            another resolution gets it scaled with its side, at least 0.5 pixel.
    """

    kind: Literal["gaussian", "crossinfonet"]
    sigma: float = 1.0


def encode_heatmaps(uv: Array, size: int, targets: HeatmapTargets, main_size: int | None = None) -> Array:
    """Target maps of one resolution: ``(..., J, 2)`` crop ``u, v`` -> ``(..., J, size, size)`` float32.

    Args:
        uv: Normalised crop coordinates (non-finite joints give all-zero maps).
        size: Side of the maps.
        targets: The kind (and sigma) to render.
        main_size: Side of the map ``targets.sigma`` is given for; ``size`` when omitted.
    """
    if targets.kind == "crossinfonet":
        return crossinfonet_heatmaps(uv, size)
    if targets.kind == "gaussian":
        sigma = max(targets.sigma * size / (main_size or size), 0.5)
        return gaussian_heatmaps(uv, size, sigma=sigma)
    raise ValueError(f"unknown heatmap target kind {targets.kind!r}; use 'gaussian' or 'crossinfonet'")


def with_heatmap_targets(
    batch: Mapping[str, Any], outputs: Mapping[str, Any], targets: HeatmapTargets | None
) -> Mapping[str, Any]:
    """``batch`` plus ``"heatmap_targets"``: ``{side: maps}`` for every heatmap resolution in ``outputs``.

    Every output whose key starts with ``"heatmaps"`` is a ``(B, J, S, S)`` map; targets are rendered
    once per distinct side ``S`` from ``batch["joints_crop"][..., :2]``, in the outputs' dtype and
    device (without gradients). ``targets=None`` (a loss without heatmap terms) returns ``batch`` as it is.
    """
    if targets is None:
        return batch
    heatmaps = {k: v for k, v in outputs.items() if k.startswith("heatmaps")}
    if not heatmaps:
        return batch
    main = heatmaps.get("heatmaps", next(iter(heatmaps.values())))
    main_size = int(main.shape[-1])
    uv = batch["joints_crop"][..., :2]
    maps = {}
    for side in sorted({int(v.shape[-1]) for v in heatmaps.values()}):
        rendered = encode_heatmaps(uv, side, targets, main_size)
        maps[side] = rendered.to(main.dtype) if _is_torch(rendered) else rendered.astype(main.dtype)
    return {**batch, "heatmap_targets": maps}


def heatmap_target(batch: Mapping[str, Any], size: int) -> Any:
    """The ``size``-sided targets :func:`with_heatmap_targets` added to ``batch``.

    Raises:
        HandposeError: The batch has none of that size (the training step did not encode them).
    """
    from handpose.errors import HandposeError

    maps = batch.get("heatmap_targets") or {}
    if size not in maps:
        raise HandposeError(
            f"the batch has no {size}x{size} heatmap targets; add them with "
            "handpose.codecs.heatmap.with_heatmap_targets(batch, outputs, loss.heatmap_targets)"
        )
    return maps[size]
