"""Draw docs/synth_gallery.png: 16 synthetic depth and 16 RGB frames with their skeletons.

Depth frames use the NYU camera and are shown as crops around the hand (a 300 mm cube at the hand's
depth, the view a depth network gets), coloured by depth; RGB frames are full 256x256 images. Joints
are filled where visible and hollow where hidden (by the hand itself or an occluder). Frames with an
odd index have occluders.

With ``--compare`` it draws docs/synth_mesh_vs_capsule.png instead: the same six frames (same pose,
view, background and sensor draws) with the capsule hand and the mesh hand, as depth crops and RGB.

Usage:
    .venv/bin/python benchmarks/make_gallery.py [--seed 2026] [--out docs/synth_gallery.png]
    .venv/bin/python benchmarks/make_gallery.py --compare [--seed 7] [--out docs/synth_mesh_vs_capsule.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FINGER_COLOURS = ("#e6194b", "#f58231", "#3cb44b", "#4363d8", "#911eb4")


def _draw_skeleton(ax, uv: np.ndarray, visible: np.ndarray, offset=(0.0, 0.0), scale: float = 1.0) -> None:
    from handpose import skeleton

    sk = skeleton.get("canonical21")
    pts = (uv[:, :2] - np.asarray(offset)) * scale
    for parent, child in sk.bones:
        finger = sk.joints[child].finger
        colour = FINGER_COLOURS[skeleton.FINGERS.index(finger)] if finger else "white"
        ax.plot(pts[[parent, child], 0], pts[[parent, child], 1], color=colour, lw=1.3)
    ax.scatter(pts[visible, 0], pts[visible, 1], s=9, c="white", edgecolors="black", linewidths=0.4, zorder=3)
    ax.scatter(pts[~visible, 0], pts[~visible, 1], s=9, facecolors="none", edgecolors="white", linewidths=0.7, zorder=3)


def _depth_crop(image: np.ndarray, labels: dict, cube: float = 300.0, size: int = 128):
    import cv2

    cam = labels["camera"]
    joints = labels["joints_xyz"].astype(float)
    centre = joints[[0, 5, 9, 13, 17]].mean(axis=0)
    half = cube / 2 * cam.fx / centre[2]
    u0, v0 = centre[0] * cam.fx / centre[2] + cam.cx - half, centre[1] * cam.fy / centre[2] + cam.cy - half
    scale = size / (2 * half)
    M = np.array([[scale, 0, -u0 * scale], [0, scale, -v0 * scale]])
    crop = cv2.warpAffine(image.astype(np.float32), M, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    shown = np.where(crop > 0, np.clip((crop - (centre[2] - cube / 2)) / cube, 0, 1), np.nan)
    return shown, (u0, v0), scale


def compare(seed: int, out: Path) -> None:
    """Six frames drawn twice, capsule and mesh hand: depth crops (top two rows) and RGB (bottom two)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.io import atomic_path
    from handpose.synth.frame import render_frame

    columns = 6
    fig, axes = plt.subplots(4, columns, figsize=(1.55 * columns, 6.6), facecolor="black")
    cmap = matplotlib.colormaps["viridis_r"].copy()
    cmap.set_bad("black")
    for row, (modality, model) in enumerate(
        (("depth", "capsule"), ("depth", "mesh"), ("rgb", "capsule"), ("rgb", "mesh"))
    ):
        for i in range(columns):
            ax = axes[row, i]
            ax.set_axis_off()
            camera = "nyu" if modality == "depth" else None
            image, labels = render_frame(seed, i, modality, camera, occluders=i % 3 == 2, hand_model=model)
            if modality == "depth":
                shown, offset, scale = _depth_crop(image, labels)
                ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
                _draw_skeleton(ax, labels["joints_uvd"], labels["visibility"], offset, scale)
            else:
                ax.imshow(image, interpolation="nearest")
            if i == 0:
                ax.set_title(f"{model} {modality}", color="white", fontsize=8, loc="left")
    fig.tight_layout(pad=0.3)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=72, facecolor="black")
    plt.close(fig)
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="run seed (default 2026; 7 with --compare)")
    parser.add_argument("--out", default=None, help="output PNG (default under docs/)")
    parser.add_argument("--compare", action="store_true", help="capsule and mesh hands side by side")
    args = parser.parse_args()
    if args.compare:
        compare(7 if args.seed is None else args.seed, Path(args.out or ROOT / "docs" / "synth_mesh_vs_capsule.png"))
        return 0
    args.seed = 2026 if args.seed is None else args.seed
    args.out = args.out or str(ROOT / "docs" / "synth_gallery.png")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.io import atomic_path
    from handpose.synth.frame import render_frame

    fig, axes = plt.subplots(4, 8, figsize=(16, 8.6), facecolor="black")
    cmap = matplotlib.colormaps["viridis_r"].copy()
    cmap.set_bad("black")
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        depth = i < 16
        image, labels = render_frame(
            args.seed, i, "depth" if depth else "rgb", "nyu" if depth else None, occluders=i % 2 == 1
        )
        if depth:
            shown, offset, scale = _depth_crop(image, labels)
            ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            _draw_skeleton(ax, labels["joints_uvd"], labels["visibility"], offset, scale)
        else:
            ax.imshow(image, interpolation="nearest")
            _draw_skeleton(ax, labels["joints_uvd"], labels["visibility"])
        tag = labels["synergy"] + (f" +{labels['occluder']}" if labels["occluder"] else "")
        ax.set_title(f"{labels['handedness'][0].upper()} {tag}", color="white", fontsize=8)
    fig.suptitle(
        f"handpose synthetic hands (seed {args.seed}): depth crops (NYU camera, 300 mm cube) and RGB 256x256; "
        "hollow joints are hidden",
        color="white",
        fontsize=11,
    )
    fig.tight_layout()
    out = Path(args.out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=72, facecolor="black")
    plt.close(fig)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
