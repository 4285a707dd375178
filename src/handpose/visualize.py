"""Pictures of predictions: joints over the input image, the hand as a 3D skeleton, PCK curves (PNG).

Bones are coloured by finger from the skeleton registry (thumb red, index orange, middle green, ring
blue, little purple, palm grey), so every dataset's joint order draws the same way. Every file is
written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handpose import skeleton as skeletons
from handpose.figures import pyplot, save_png

FINGER_COLORS = {
    "thumb": (0.85, 0.15, 0.15),
    "index": (0.95, 0.55, 0.05),
    "middle": (0.15, 0.65, 0.2),
    "ring": (0.15, 0.4, 0.85),
    "little": (0.6, 0.25, 0.75),
    None: (0.45, 0.45, 0.45),
}


def bone_colors(skeleton: str) -> list[tuple[tuple[int, int], tuple[float, float, float]]]:
    """``((parent, child), rgb)`` for every bone of ``skeleton``, coloured by the child's finger."""
    skel = skeletons.get(skeleton)
    return [((a, b), FINGER_COLORS.get(skel.joints[b].finger, FINGER_COLORS[None])) for a, b in skel.bones]


def depth_to_gray(depth: np.ndarray, center_z: float | None = None, window: float = 300.0) -> np.ndarray:
    """A depth map (mm) as an 8-bit picture: near bright, far dark, missing black."""
    d = np.asarray(depth, dtype=np.float32)
    valid = d > 0
    if not valid.any():
        return np.zeros(d.shape, np.uint8)
    z0 = float(center_z) if center_z is not None else float(np.percentile(d[valid], 2))
    lo, hi = z0 - window / 2, z0 + window / 2
    g = np.clip((hi - d) / max(hi - lo, 1e-6), 0, 1) * 205 + 50
    g[~valid | (d > hi)] = 0
    return g.astype(np.uint8)


def plot_overlay(
    image: np.ndarray,
    uvd: np.ndarray,
    skeleton: str,
    path: str | Path,
    gt_uvd: np.ndarray | None = None,
    title: str = "",
    zoom: bool = True,
) -> Path:
    """Joints (and optionally the labels, dashed) drawn on the input image.

    Args:
        image: Depth ``(H, W)`` in mm or RGB ``(H, W, 3)`` uint8.
        uvd: ``(J, 3)`` predicted pixel coordinates (+ depth).
        skeleton: Skeleton name of ``uvd``.
        path: PNG to write.
        gt_uvd: Labels in the same order, drawn dashed.
        title: Figure title.
        zoom: Show only the region around the hand.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=100)
    if image.ndim == 2:
        center_z = float(np.median(uvd[:, 2])) if np.all(np.isfinite(uvd[:, 2])) else None
        ax.imshow(depth_to_gray(image, center_z), cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)
    for (a, b), color in bone_colors(skeleton):
        if gt_uvd is not None:
            ax.plot(gt_uvd[[a, b], 0], gt_uvd[[a, b], 1], "--", color="white", linewidth=1.0, alpha=0.8)
        ax.plot(uvd[[a, b], 0], uvd[[a, b], 1], "-", color=color, linewidth=2.0)
    ax.scatter(uvd[:, 0], uvd[:, 1], s=9, c="yellow", edgecolors="black", linewidths=0.4, zorder=3)
    if zoom and np.all(np.isfinite(uvd[:, :2])):
        pts = uvd[:, :2] if gt_uvd is None else np.concatenate([uvd[:, :2], gt_uvd[:, :2]])
        lo, hi = pts.min(0), pts.max(0)
        half = max(float((hi - lo).max()) * 0.75, 20.0)
        mid = (lo + hi) / 2
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] + half, mid[1] - half)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def plot_skeleton_3d(
    xyz: np.ndarray, skeleton: str, path: str | Path, gt_xyz: np.ndarray | None = None, title: str = ""
) -> Path:
    """The hand in 3D (camera mm; x right, y down, z forward), labels dashed grey when given."""
    plt = pyplot()
    fig = plt.figure(figsize=(4.2, 4.2), dpi=100)
    ax = fig.add_subplot(projection="3d")

    # Plot (x, z, -y) so that up in the picture is up in the camera image.
    def coords(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return p[..., 0], p[..., 2], -p[..., 1]

    for (a, b), color in bone_colors(skeleton):
        if gt_xyz is not None:
            ax.plot(*coords(gt_xyz[[a, b]]), "--", color="0.55", linewidth=1.0)
        ax.plot(*coords(xyz[[a, b]]), "-", color=color, linewidth=2.2)
    ax.scatter(*coords(xyz), s=8, c="black")
    pts = xyz if gt_xyz is None else np.concatenate([xyz, gt_xyz])
    mid = pts.mean(0)
    half = max(float(np.ptp(pts, axis=0).max()) / 2, 30.0)
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[2] - half, mid[2] + half)
    ax.set_zlim(-mid[1] - half, -mid[1] + half)
    ax.set_xlabel("x (mm)", fontsize=7)
    ax.set_ylabel("z (mm)", fontsize=7)
    ax.set_zlabel("-y (mm)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.view_init(elev=15, azim=-70)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def plot_pck(report: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """The 3D PCK curve of an RGB evaluation report (thresholds 0-50 mm)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    auc = report.get("auc_20_50")
    label = report.get("model_name", "model") + (f" (AUC 20-50: {auc:.3f})" if isinstance(auc, float) else "")
    ax.plot(report["thresholds_mm"], report["pck"], "-o", markersize=3, label=label)
    ax.set_xlabel("Error threshold (mm)")
    ax.set_ylabel("3D PCK")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return save_png(fig, path)
