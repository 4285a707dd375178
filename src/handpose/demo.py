"""``handpose demo``: the whole product path on synthetic hands, on a CPU, in minutes.

1. Render a synthetic depth set with the NYU camera: training frames (seed 1; the last tenth is the
   validation split that picks the best checkpoint) and held-out test frames (seed 2). Right hands
   only, seen from every direction: the public depth benchmarks record one hand too, and with both
   a flat left palm and a flat right back look alike in depth, so no network can tell on which side
   of the middle knuckle the index one lies.
2. Train CrossInfoNet (the full model, on 32-pixel crops and without dropout so that it learns in
   minutes) with Adam and a cosine schedule annealed to zero over a fixed number of epochs: six in
   the full demo, nine of a fifth of the frames with ``--quick``. Every planned step is trained: a
   busy machine takes longer (progress lines show the time left) rather than training less; only a
   time budget the user gives (``--budget``) can stop it early, and the report's first line says so.
3. Evaluate the best checkpoint on the test frames (mean / median / per-joint error, success-rate
   curve) next to the mean-pose baseline: always predicting the training set's mean normalised pose,
   decoded with each test frame's own crop.
4. Export a model package (weights + preprocessing contract, and an ONNX graph in the full demo).
5. Predict a few test frames from their PNG files with the package alone, both with the crop centred
   on the labelled centre and from the depth alone, and draw overlays and 3D skeletons.
6. Write ``metrics.json`` and ``report.md`` (see :mod:`handpose.demo_report`).

Crops in training and evaluation are centred on the labelled middle-finger MCP joint, as the public
depth benchmarks centre theirs on published reference points.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.demo_report import plot_success_with_baseline, write_report
from handpose.errors import HandposeError
from handpose.io import make_output_folder, write_json_atomic


@dataclass(frozen=True)
class DemoPlan:
    """Sizes and budgets of one demo run."""

    train_frames: int
    test_frames: int
    input_size: int
    batch_size: int
    lr: float
    onnx: bool
    predict_frames: int
    workers: int = 2
    augment: bool = True
    warmup_steps: int = 50
    precise_bn_batches: int = 20
    # An epoch budget (cosine over its steps).
    train_epochs: int = 6
    val_every_n_epochs: int = 1


FULL = DemoPlan(
    train_frames=4000,
    test_frames=500,
    input_size=32,
    batch_size=32,
    lr=2e-3,
    onnx=True,
    predict_frames=4,
    # Six passes over the training frames, annealed to zero: longer runs on these 4000 frames
    # validated worse, not better.
    train_epochs=6,
)
QUICK = DemoPlan(
    train_frames=800,
    test_frames=200,
    input_size=32,
    batch_size=32,
    lr=3e-3,
    onnx=False,
    predict_frames=2,
    # A minute buys about two hundred steps: spend none of them on warm-up or extra BatchNorm passes,
    # and learn the rendered views as they are (the renderer already spans every hand rotation).
    augment=False,
    warmup_steps=5,
    precise_bn_batches=4,
    # About two hundred steps (9 x 22), annealed to zero; validate (and checkpoint) only the final
    # weights: the epochs are too short to pay for more.
    train_epochs=9,
    val_every_n_epochs=9,
)
CAMERA = "nyu"
HANDS = "right"
CUBE_MM = 250.0
VAL_FRACTION = 0.1
OWNED = (
    "data",
    "cache",
    "run",
    "package",
    "predictions",
    "figures",
    "report.md",
    "metrics.json",
    "evaluation.json",
)


def demo_config(plan: DemoPlan, out: Path, budget_minutes: float | None = None) -> dict[str, Any]:
    """The training config of the demo, as a YAML-equivalent dict (saved with the run).

    Args:
        plan: Sizes of the run.
        out: The demo folder.
        budget_minutes: The user's limit on training time (``None``: train every planned step).
    """
    return {
        "name": "run",
        "seed": 0,
        "out_dir": str(out),
        "description": "handpose demo: CrossInfoNet on synthetic NYU-camera depth",
        # Small crops and no dropout: the most steps, and the fastest progress per step, in a few CPU minutes.
        "model": {"name": "crossinfonet", "input_size": plan.input_size, "kwargs": {"dropout": 0.0}},
        "data": {
            # The rendered frames' hand regions, decoded once (see handpose.datasets.depthcache); the
            # last tenth of the training frames is the validation split.
            "dataset": "depth_cache",
            "root": str(out / "cache" / "train"),
            "train_split": "all",
            "val_split": "holdout",
            "val_fraction": VAL_FRACTION,
            "cube": CUBE_MM,
            "center": "gt",
            "eval_center": "gt",
            "augment": plan.augment,
            "batch_size": plan.batch_size,
            "num_workers": 0,
        },
        "optim": {
            "optimizer": "adam",
            "lr": plan.lr,
            # Annealed to zero over the plan's epochs: in a few CPU minutes the final low-rate steps
            # are worth more than any per-epoch decay.
            "schedule": "cosine",
            "cosine_over": "steps",
            "warmup_steps": plan.warmup_steps,
        },
        "trainer": {
            "max_epochs": plan.train_epochs,
            "max_minutes": budget_minutes,
            "accelerator": "cpu",
            "progress": "rich",
            "log_every_n_steps": 10,
            "gradient_clip": 10.0,
            "precise_bn_batches": plan.precise_bn_batches,
            "val_every_n_epochs": plan.val_every_n_epochs,
        },
    }


def run_demo(out: str | Path = "runs/demo", quick: bool = False, budget_minutes: float | None = None) -> dict[str, Any]:
    """Run the demo; returns ``metrics.json``'s content.

    Args:
        out: Output folder.
        quick: The small plan.
        budget_minutes: Stop training after this many minutes even if planned steps remain (the
            report then says so first); ``None`` trains every planned step.
    """
    import torch

    plan = QUICK if quick else FULL
    out = Path(out)
    _prepare(out)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    _say(f"1/6 rendering {plan.train_frames} training and {plan.test_frames} test frames (NYU camera, right hands)")
    from handpose.synth.writer import write_synthetic

    start = time.perf_counter()
    for name, count, seed in (("train", plan.train_frames, 1), ("test", plan.test_frames, 2)):
        write_synthetic(out / "data" / name, count, seed=seed, camera=CAMERA, workers=plan.workers, hands=HANDS)
    timings["render_s"] = time.perf_counter() - start
    start = time.perf_counter()
    build_caches(out, plan)
    timings["cache_s"] = time.perf_counter() - start

    _say(f"2/6 training CrossInfoNet for {plan.train_epochs} epochs on the CPU" + _budget_text(budget_minutes))
    from handpose.training.config import config_from_dict
    from handpose.training.run import train

    start = time.perf_counter()
    cfg = config_from_dict(demo_config(plan, out, budget_minutes), source="demo")
    summary = train(cfg)
    timings["train_s"] = time.perf_counter() - start
    best = summary["best_checkpoint"]
    if not best:
        raise HandposeError("training produced no checkpoint")

    _say("3/6 evaluating on the held-out test frames")
    start = time.perf_counter()
    evaluation = evaluate_demo(Path(best), out, summary["train_frames"])
    timings["evaluate_s"] = time.perf_counter() - start

    _say("4/6 exporting the model package")
    from handpose.export import export_package

    start = time.perf_counter()
    export_metrics = {"test_mean_error_mm": evaluation["model"]["mean_error_mm"]}
    package = export_package(best, out / "package", onnx=plan.onnx, metrics=export_metrics)
    timings["export_s"] = time.perf_counter() - start

    _say(f"5/6 predicting {plan.predict_frames} test frames with the package")
    start = time.perf_counter()
    predictions = predict_demo(out, plan.predict_frames)
    timings["predict_s"] = time.perf_counter() - start
    timings["total_s"] = time.perf_counter() - t0

    _say("6/6 writing the report")
    metrics = {
        "mean_error_mm": evaluation["model"]["mean_error_mm"],
        "mean_pose_error_mm": evaluation["mean_pose"]["mean_error_mm"],
        "ratio": evaluation["model"]["mean_error_mm"] / evaluation["mean_pose"]["mean_error_mm"],
        "median_error_mm": evaluation["model"]["median_error_mm"],
        "success_at_20mm": evaluation["model"]["success_at_20mm"],
        "success_at_40mm": evaluation["model"]["success_at_40mm"],
        "depth_only_mean_error_mm": predictions["depth_only_mean_error_mm"],
        "test_frames": evaluation["model"]["frames"],
        "train_frames": summary["train_frames"],
        "val_frames": summary["val_frames"],
        "train_steps": summary["global_step"],
        "planned_steps": summary["planned_steps"],
        "stopped_by_time_budget": summary["stopped_by_time_budget"],
        "budget_minutes": budget_minutes,
        "precision": summary["precision"],
        "torch_threads": torch.get_num_threads(),
        "train_epochs": summary["epochs"],
        "best_val_mean_error_mm": summary["best_val_mean_error_mm"],
        "quick": quick,
        "plan": asdict(plan),
        "onnx_max_abs_diff": package.get("onnx", {}).get("max_abs_diff"),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    write_json_atomic(out / "metrics.json", metrics)
    write_report(out, metrics, evaluation, predictions, CUBE_MM)
    cut = " (time budget hit: training cut short)" if metrics["stopped_by_time_budget"] else ""
    _say(
        f"done in {timings['total_s'] / 60:.1f} min, {metrics['train_steps']} of {metrics['planned_steps']} "
        f"planned training steps{cut}: mean error {metrics['mean_error_mm']:.1f} mm vs "
        f"mean pose {metrics['mean_pose_error_mm']:.1f} mm (ratio {metrics['ratio']:.2f}); report: {out / 'report.md'}"
    )
    return metrics


def _budget_text(budget_minutes: float | None) -> str:
    return f" (time budget {budget_minutes:g} min)" if budget_minutes else ""


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _prepare(out: Path) -> None:
    """Create ``out``; remove only what a previous demo wrote there."""
    make_output_folder(out, "the demo", label="demo output")
    for name in OWNED:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def build_caches(out: Path, plan: DemoPlan) -> None:
    """Decode the rendered frames once into hand-region caches (training reads these, not the PNGs)."""
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache

    # Room for rotated, scaled and shifted crops at the input's resolution (margin as the cache's default).
    patch = int(np.ceil(plan.input_size * 1.75 * 1.1 / 16) * 16)
    for name, split in (("train", "all"), ("test", "test")):
        reader = open_dataset("synthetic", out / "data" / name, split)
        build_depth_cache(reader, out / "cache" / name, cube=CUBE_MM, patch_size=patch, center="gt", progress=False)


def evaluate_demo(checkpoint: Path, out: Path, train_frames: int) -> dict[str, Any]:
    """Scores of the model and of the mean-pose baseline on the test frames (same crops)."""
    from handpose.evaluation.checkpoint import score_depth, write_plots
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset

    est = Estimator.load(checkpoint)
    test = open_eval_dataset(est, "depth_cache", str(out / "cache" / "test"), "test")
    preds = predict_dataset(est, test, description="test frames")
    model_scores = score_depth(preds.pred_xyz, preds.gt_xyz)

    baseline_xyz = mean_pose_predictions(est, preds, out / "cache" / "train", train_frames)
    baseline_scores = score_depth(baseline_xyz, preds.gt_xyz)

    report = {
        "model_name": "CrossInfoNet",
        "model": str(checkpoint),
        "modality": "depth",
        "success_rate": model_scores["success_rate"],
        "per_joint_mm": model_scores["per_joint_mm"],
    }
    figures = out / "figures"
    success_png, per_joint_png = write_plots(report, est.joint_names, figures, "synthetic test frames")
    plot_success_with_baseline(model_scores, baseline_scores, figures / "success_rate.png")
    result = {"model": model_scores, "mean_pose": baseline_scores, "figures": [str(success_png), str(per_joint_png)]}
    write_json_atomic(out / "evaluation.json", result)
    return result


def mean_pose_predictions(est: Any, preds: Any, cache_root: Path, train_frames: int) -> np.ndarray:
    """The mean-pose baseline's joints (camera mm) for predicted frames: the training frames' mean
    normalised pose, decoded with each frame's own crop (``preds`` from ``predict_dataset``)."""
    from handpose.codecs import cube as cube_codec

    mean = np.broadcast_to(training_mean_pose(est, cache_root, train_frames), preds.gt_xyz.shape)
    g = preds.geometry
    return np.asarray(cube_codec.decode(mean, g["center_xyz"], g["cube"], g["rotation_deg"], g["camera"]))


def training_mean_pose(est: Any, cache_root: Path, train_frames: int) -> np.ndarray:
    """Mean normalised pose ``(J, 3)`` of the training frames, with the contract's crop centring."""
    from handpose.codecs import cube as cube_codec
    from handpose.datasets import open_dataset
    from handpose.geometry import get_camera
    from handpose.skeleton import get

    reader = open_dataset("depth_cache", cache_root, "all")
    crop = est.contract.depth_crop
    if crop.train_center != "gt":
        raise HandposeError("the demo's baseline assumes crops centred on the labelled joint")
    # The training frames are the first ones; the held-out validation tail is left out.
    joints = reader.labels_xyz()[:train_frames].astype(np.float64)
    root = get(est.skeleton).root_index
    cube = crop.cube_mm
    cam = get_camera(CAMERA)
    camera = (cam.fx, cam.fy, cam.cx, cam.cy)
    # Without rotation a cube crop normalises as (xyz - centre) / (cube / 2); the centre is the root joint.
    norm = [cube_codec.encode(j, j[root], (cube,) * 3, 0.0, camera) for j in joints]
    return np.mean(norm, axis=0)


def predict_demo(out: Path, count: int) -> dict[str, Any]:
    """Predict the first test frames from their PNGs with the exported package alone."""
    from handpose.datasets import open_dataset
    from handpose.inference import Estimator
    from handpose.inputs import read_depth
    from handpose.visualize import plot_overlay, plot_skeleton_3d

    est = Estimator.load(out / "package")
    test = open_dataset("synthetic", out / "data" / "test", "test")
    from handpose.skeleton import get

    root = get(est.skeleton).root_index
    rows = []
    errors_given, errors_depth = [], []
    step = max(len(test) // max(count, 1), 1)
    for k in range(count):
        index = min(k * step, len(test) - 1)
        sample = test[index]
        png = out / "data" / "test" / sample.frame_id  # the folder's own PNG, read as a user's file would be
        depth = read_depth(png)
        given = est.predict(depth, camera=sample.camera, center=sample.joints_xyz[root])
        alone = est.predict(depth, camera=sample.camera)
        e_given = float(np.linalg.norm(given.xyz - sample.joints_xyz, axis=-1).mean())
        e_alone = float(np.linalg.norm(alone.xyz - sample.joints_xyz, axis=-1).mean())
        errors_given.append(e_given)
        errors_depth.append(e_alone)
        name = f"test_{index:04d}"
        gt_uvd = sample.camera.xyz_to_uvd(sample.joints_xyz)
        folder = out / "predictions"
        write_json_atomic(folder / f"{name}.json", {"input": str(png), **given.to_dict()})
        plot_overlay(
            depth,
            given.uvd,
            est.skeleton,
            folder / f"{name}_overlay.png",
            gt_uvd=gt_uvd,
            title=f"frame {index}: {e_given:.1f} mm",
        )
        plot_skeleton_3d(
            given.xyz,
            est.skeleton,
            folder / f"{name}_3d.png",
            gt_xyz=sample.joints_xyz,
            title=f"frame {index} (labels dashed)",
        )
        plot_overlay(
            depth,
            alone.uvd,
            est.skeleton,
            folder / f"{name}_depth_only_overlay.png",
            gt_uvd=gt_uvd,
            title=f"frame {index}, centre from depth: {e_alone:.1f} mm",
        )
        rows.append({"frame": index, "name": name, "error_mm": e_given, "depth_only_error_mm": e_alone})
    return {
        "frames": rows,
        "mean_error_mm": float(np.mean(errors_given)),
        "depth_only_mean_error_mm": float(np.mean(errors_depth)),
    }
