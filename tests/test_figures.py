"""The drawing helpers write real PNGs atomically, and the demo report states the numbers it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handpose import skeleton as skeletons
from handpose.demo_report import plot_success_with_baseline, write_report
from handpose.figures import pyplot, save_png
from handpose.visualize import plot_overlay, plot_skeleton_3d

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_save_png_writes_and_closes_the_figure(tmp_path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_png(fig, tmp_path / "sub" / "line.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]  # no temporary file left behind


def test_save_png_leaves_nothing_when_writing_fails(tmp_path: Path) -> None:
    plt = pyplot()
    fig, _ = plt.subplots()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Exception):  # noqa: B017 - the folder cannot be created below a file
        save_png(fig, blocker / "a.png")
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_overlay_and_skeleton_pictures(tmp_path: Path) -> None:
    skel = skeletons.get("nyu14")
    rng = np.random.default_rng(0)
    uvd = np.column_stack([rng.uniform(20, 60, (skel.num_joints, 2)), rng.uniform(480, 520, skel.num_joints)])
    depth = np.full((80, 80), 500.0, np.float32)
    xyz = rng.normal(0, 40, (skel.num_joints, 3)) + np.array([0.0, 0.0, 500.0])
    for path in (
        plot_overlay(depth, uvd, "nyu14", tmp_path / "o.png", gt_uvd=uvd + 1, title="t"),
        plot_overlay(np.zeros((80, 80, 3), np.uint8), uvd, "nyu14", tmp_path / "rgb.png"),
        plot_skeleton_3d(xyz, "nyu14", tmp_path / "s.png", gt_xyz=xyz + 2),
    ):
        assert path.read_bytes().startswith(PNG_MAGIC)


def _scores(mean: float) -> dict[str, object]:
    return {
        "mean_error_mm": mean,
        "median_error_mm": mean - 1,
        "success_at_20mm": 0.25,
        "success_at_40mm": 0.75,
        "success_rate": {"thresholds_mm": [0, 40, 80], "max_error": [0.0, 0.5, 1.0]},
    }


def test_demo_report_states_the_given_numbers(tmp_path: Path) -> None:
    plot_success_with_baseline(_scores(12.5), _scores(30.0), tmp_path / "figures" / "success_rate.png")
    assert (tmp_path / "figures" / "success_rate.png").read_bytes().startswith(PNG_MAGIC)
    metrics = {
        "train_steps": 200,
        "planned_steps": 200,
        "torch_threads": 1,
        "loader_workers": 1,
        "precision": "32-true",
        "train_frames": 6400,
        "val_frames": 100,
        "test_frames": 200,
        "ratio": 12.5 / 30.0,
        "quick": True,
        "timings_s": {"train_s": 90.0, "total_s": 120.0},
    }
    predictions = {
        "frames": [{"frame": 3, "name": "test_0003", "error_mm": 11.0, "depth_only_error_mm": 14.0}],
        "mean_error_mm": 11.0,
        "depth_only_mean_error_mm": 14.0,
    }
    evaluation = {"model": _scores(12.5), "mean_pose": _scores(30.0)}
    write_report(tmp_path, metrics, evaluation, predictions, cube_mm=250.0)
    report = (tmp_path / "report.md").read_text()
    assert "| CrossInfoNet | 12.50 | 11.50 | 25.0% | 75.0% |" in report
    assert "**0.42**" in report and "250 mm cubes" in report
    assert "on 6400 synthetic depth frames" in report and "1 training thread(s) beside 1 rendering" in report
    assert "predictions/test_0003_overlay.png" in report
    assert f"handpose demo --quick --out {tmp_path}" in report
