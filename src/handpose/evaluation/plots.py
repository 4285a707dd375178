"""Figures for ``handpose evaluate --plot``: success-rate curves and per-joint error bars (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handpose.evaluation.evaluator import MethodResult
from handpose.figures import pyplot, save_png


def plot_success_curves(results: Sequence[MethodResult], path: str | Path, title: str = "") -> Path:
    """All methods' max-error success-rate curves in one figure (the tables' "maximum allowed distance" plot).

    Args:
        results: Scored methods, drawn in the given order (best first reads best in the legend).
        path: PNG file to write (atomically).
        title: Figure title.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    colors = _colors(plt, len(results))
    styles = ("-", "--", ":", "-.")
    for i, r in enumerate(results):
        ax.plot(
            r.thresholds_mm,
            100 * np.asarray(r.success_max),
            linestyle=styles[(i // 20) % len(styles)],
            color=colors[i],
            linewidth=1.5,
            label=f"{r.method} ({r.mean_error_mm:.2f} mm)",
        )
    ax.set_xlim(float(results[0].thresholds_mm[0]), float(results[0].thresholds_mm[-1]))
    ax.set_ylim(0, 100)
    ax.set_xlabel("Maximum allowed distance to GT (mm)")
    ax.set_ylabel("Fraction of frames with all joints within distance (%)")
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right", ncol=1 if len(results) <= 16 else 2)
    fig.tight_layout()
    return save_png(fig, path)


def plot_per_joint_errors(
    results: Sequence[MethodResult], joint_names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Grouped bars: each joint's mean error per method, and the overall mean as the last group.

    Args:
        results: Scored methods.
        joint_names: One name per joint, in the evaluation order.
        path: PNG file to write (atomically).
        title: Figure title.
    """
    plt = pyplot()
    labels = [*joint_names, "mean"]
    width = 0.8 / max(len(results), 1)
    # Wider with more bars, but capped: the legend goes beside the axes.
    fig, ax = plt.subplots(figsize=(min(20.0, max(9.0, 0.05 * len(labels) * len(results) + 4)), 6), dpi=100)
    colors = _colors(plt, len(results))
    x = np.arange(len(labels))
    for i, r in enumerate(results):
        values = [*r.per_joint_mm.tolist(), r.mean_error_mm]
        ax.bar(x - 0.4 + (i + 0.5) * width, values, width, color=colors[i], label=r.method)
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel("Mean error (mm)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 if len(results) <= 30 else 2)
    fig.tight_layout()
    return save_png(fig, path)


def _colors(plt, n: int) -> list:
    # tab20 stays readable up to 20 methods; beyond that, distinct hues from a continuous map.
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("turbo")(x) for x in np.linspace(0.05, 0.95, n)]


__all__ = ["plot_per_joint_errors", "plot_success_curves"]
