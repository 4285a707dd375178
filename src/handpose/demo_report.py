"""The demo's figure and report: its success-rate curve beside the mean-pose baseline, ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handpose.figures import pyplot, save_png
from handpose.io import write_text_atomic


def plot_success_with_baseline(model: dict[str, Any], baseline: dict[str, Any], path: Path) -> None:
    """The model's max-error success-rate curve beside the mean-pose baseline's."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    t = model["success_rate"]["thresholds_mm"]
    ax.plot(
        t,
        100 * np.asarray(model["success_rate"]["max_error"]),
        "-",
        linewidth=2,
        label=f"CrossInfoNet ({model['mean_error_mm']:.1f} mm)",
    )
    ax.plot(
        t,
        100 * np.asarray(baseline["success_rate"]["max_error"]),
        "--",
        linewidth=1.5,
        color="0.4",
        label=f"mean pose ({baseline['mean_error_mm']:.1f} mm)",
    )
    ax.set_xlim(0, 80)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Maximum allowed distance to GT (mm)")
    ax.set_ylabel("Fraction of frames with all joints within distance (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Synthetic test frames (NYU camera)")
    fig.tight_layout()
    save_png(fig, path)


def report_title(metrics: dict[str, Any]) -> str:
    """The report's first line; it says first if a time budget cut training short."""
    if metrics.get("stopped_by_time_budget"):
        return (
            f"# handpose demo report: time budget of {metrics['budget_minutes']:g} min hit, training stopped "
            f"after {metrics['train_steps']} of {metrics['planned_steps']} planned steps"
        )
    return "# handpose demo report"


def write_report(
    out: Path, metrics: dict[str, Any], evaluation: dict[str, Any], predictions: dict[str, Any], cube_mm: float
) -> None:
    """``report.md``: the numbers, the plots, the overlays and skeletons.

    Args:
        out: The demo folder (the report links the figures under it by relative path).
        metrics: ``metrics.json``'s content.
        evaluation: ``evaluation.json``'s content (model and mean-pose scores).
        predictions: What the package predicted for the drawn test frames.
        cube_mm: Side of the crop cubes.
    """
    m, b = evaluation["model"], evaluation["mean_pose"]
    t = metrics["timings_s"]
    lines = [
        report_title(metrics),
        "",
        f"CrossInfoNet trained for {metrics['train_steps']} of its {metrics['planned_steps']} planned steps "
        f"({t['train_s'] / 60:.1f} min, {metrics['torch_threads']} training thread(s) beside "
        f"{metrics['loader_workers']} rendering process(es), precision {metrics['precision']}) on "
        f"{metrics['train_frames']} synthetic depth frames (NYU camera) rendered as it trained, each seen once, "
        f"validated on {metrics['val_frames']} frames of another seed and scored on "
        f"{metrics['test_frames']} held-out test frames (PNG files) of a third. Crops are "
        f"{cube_mm:.0f} mm cubes centred on the labelled middle-finger MCP joint.",
        "",
        "| | mean error (mm) | median (mm) | frames within 20 mm | within 40 mm |",
        "|---|---|---|---|---|",
        f"| CrossInfoNet | {m['mean_error_mm']:.2f} | {m['median_error_mm']:.2f} | "
        f"{100 * m['success_at_20mm']:.1f}% | {100 * m['success_at_40mm']:.1f}% |",
        f"| mean pose of training frames | {b['mean_error_mm']:.2f} | {b['median_error_mm']:.2f} | "
        f"{100 * b['success_at_20mm']:.1f}% | {100 * b['success_at_40mm']:.1f}% |",
        "",
        f"Ratio to the mean-pose error: **{metrics['ratio']:.2f}**. With the hand centre found in the depth "
        f"alone (no labels), the {len(predictions['frames'])} predicted frames below average "
        f"{predictions['depth_only_mean_error_mm']:.1f} mm (labelled centre: {predictions['mean_error_mm']:.1f} mm).",
        "",
        "![success rate](figures/success_rate.png)",
        "",
        "![per-joint error](figures/per_joint_error.png)",
        "",
        "## Predictions (exported package, PNG inputs)",
        "",
        "Labels are drawn dashed.",
        "",
    ]
    for row in predictions["frames"]:
        n = row["name"]
        lines += [
            f"Frame {row['frame']}: {row['error_mm']:.1f} mm (centre from the depth alone: "
            f"{row['depth_only_error_mm']:.1f} mm)",
            "",
            f"![overlay](predictions/{n}_overlay.png) ![3D](predictions/{n}_3d.png) "
            f"![depth only](predictions/{n}_depth_only_overlay.png)",
            "",
        ]
    lines += [
        "## Timings (s)",
        "",
        "| " + " | ".join(t) + " |",
        "|" + "---|" * len(t),
        "| " + " | ".join(f"{v:.1f}" for v in t.values()) + " |",
        "",
        "Reproduce: `handpose demo" + (" --quick" if metrics["quick"] else "") + f" --out {out}`.",
        "",
    ]
    write_text_atomic(out / "report.md", "\n".join(lines))
