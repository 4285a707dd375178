"""``handpose demo``: the whole product path on synthetic hands, on a CPU, in minutes.

1. Render the held-out test frames with the NYU camera (seed 2) into a folder of 16-bit PNGs, as
   ``handpose synth`` writes them. Right hands only, seen from every direction: the public depth
   benchmarks record one hand too, and with both a flat left palm and a flat right back look alike in
   depth, so no network can tell on which side of the middle knuckle the index one lies.
2. Train CrossInfoNet (the full model, on 32-pixel crops and without dropout so that it learns in
   minutes; its loss sums joint distances instead of squares, and BatchNorm statistics are fixed for
   the last fifth of the steps) with Adam and a cosine schedule annealed to zero over a fixed number
   of steps, on frames the synthetic engine renders as the loader asks for them (seed 1): every step
   sees new hands, so the short run cannot overfit a small rendered set (a fixed set of 3600 frames
   validated at 2.3x its training loss), and no time goes into writing and decoding training files. The network runs
   on one thread beside one loader process on a 2-core CPU (see :func:`training_threads`). Every
   planned step is trained: a busy machine takes longer (progress lines show the time left) rather
   than training less; only a time budget the user gives (``--budget``) can stop it early, and the
   report's first line says so.
3. Evaluate the final checkpoint on the test PNGs (mean / median / per-joint error, success-rate
   curve) next to the mean-pose baseline: always predicting the mean normalised pose of training
   frames, decoded with each test frame's own crop.
4. Export a model package (weights + preprocessing contract, and an ONNX graph in the full demo).
5. Predict a few test frames from their PNG files with the package alone, both with the crop centred
   on the labelled centre and from the depth alone, and draw overlays and 3D skeletons.
6. Write ``metrics.json`` and ``report.md`` (see :mod:`handpose.demo_report`).

Crops in training and evaluation are centred on the labelled middle-finger MCP joint, as the public
depth benchmarks centre theirs on published reference points.
"""

from __future__ import annotations

import os
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

    train_steps: int
    batch_size: int
    lr: float
    test_frames: int
    val_frames: int
    onnx: bool
    predict_frames: int
    input_size: int = 32
    # Processes rendering training frames beside the training process.
    loader_workers: int = 1
    # Processes rendering the test frames.
    render_workers: int = 2
    augment: bool = False
    warmup_steps: int = 50
    precise_bn_batches: int = 10
    # The last fifth trains on the BatchNorm statistics inference uses: without it a few test crops
    # blew up to the corner of the cube (see TrainerConfig.freeze_batchnorm_at).
    freeze_batchnorm_at: float | None = 0.8
    # CrossInfoNet's coordinate terms summed as joint distances, not squares (see
    # handpose.losses.depth); the heatmap weight is raised to match their larger scale.
    coordinate_loss: str = "distance"
    heatmap_weight: float = 1.0
    # Weights, data order and training frames; the test frames and the mean-pose baseline stay the same,
    # so runs with other seeds show the demo's run-to-run spread.
    seed: int = 0


FULL = DemoPlan(
    train_steps=600,
    batch_size=64,
    lr=3e-3,
    test_frames=500,
    val_frames=400,
    onnx=True,
    predict_frames=4,
)
QUICK = DemoPlan(
    train_steps=200,
    batch_size=32,
    lr=3e-3,
    test_frames=200,
    val_frames=100,
    onnx=False,
    predict_frames=2,
    # A minute buys about two hundred steps: spend few of them on warm-up or extra BatchNorm passes.
    warmup_steps=5,
    precise_bn_batches=4,
)
CAMERA = "nyu"
HANDS = "right"
CUBE_MM = 250.0
TRAIN_SEED, VAL_SEED, TEST_SEED = 1, 1001, 2
# Training streams of other plan seeds start here, clear of the validation and test seeds.
OTHER_TRAIN_SEEDS = 10_000
# Training frames whose mean normalised pose is the baseline (rendered again for their labels).
MEAN_POSE_FRAMES = 1000
OWNED = (
    "data",
    "cache",  # written by earlier versions of the demo
    "run",
    "package",
    "predictions",
    "figures",
    "report.md",
    "metrics.json",
    "evaluation.json",
)


def training_threads(loader_workers: int, cores: int | None = None) -> int:
    """Threads of the training process: the cores the loader processes leave, at most four.

    The demo's network is small (32-pixel crops) and its threads wait passively, waking for every
    small kernel: in ``benchmarks/bench_two_trainings.py`` two such threads trained no faster than one
    on an idle 2-core CPU, and two trainings at once slowed each other 1.4x with two threads each
    but not at all with one ("handpose (passive; one thread)").
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores - loader_workers))


def demo_config(
    plan: DemoPlan, out: Path, budget_minutes: float | None = None, precision: str = "auto"
) -> dict[str, Any]:
    """The training config of the demo, as a YAML-equivalent dict (saved with the run).

    Args:
        plan: Sizes of the run.
        out: The demo folder.
        budget_minutes: The user's limit on training time (``None``: train every planned step).
        precision: ``trainer.precision``.
    """
    return {
        "name": "run",
        "seed": plan.seed,
        "out_dir": str(out),
        "description": "handpose demo: CrossInfoNet on synthetic NYU-camera depth",
        # Small crops and no dropout: the most steps, and the fastest progress per step, in a few CPU minutes.
        "model": {"name": "crossinfonet", "input_size": plan.input_size, "kwargs": {"dropout": 0.0}},
        "loss": {"name": "crossinfonet", "coordinates": plan.coordinate_loss, "heatmap_weight": plan.heatmap_weight},
        "data": {
            # One pass over train_steps * batch_size frames rendered on the fly: no frame is seen twice.
            "dataset": "synthetic_stream",
            "stream": {
                "count": plan.train_steps * plan.batch_size,
                "seed": TRAIN_SEED if plan.seed == 0 else OTHER_TRAIN_SEEDS + plan.seed,
                "val_count": plan.val_frames,
                "val_seed": VAL_SEED,
                "camera": CAMERA,
                "hands": HANDS,
            },
            "cube": CUBE_MM,
            "center": "gt",
            "eval_center": "gt",
            # Fresh frames already span every hand rotation; crop jitter only makes the short run's task harder.
            "augment": plan.augment,
            "batch_size": plan.batch_size,
            "num_workers": plan.loader_workers,
        },
        "optim": {
            "optimizer": "adam",
            "lr": plan.lr,
            # Annealed to zero over the planned steps: in a few CPU minutes the final low-rate steps
            # are worth more than any per-epoch decay.
            "schedule": "cosine",
            "cosine_over": "steps",
            "warmup_steps": plan.warmup_steps,
        },
        "trainer": {
            "max_epochs": 1,
            "max_minutes": budget_minutes,
            "accelerator": "cpu",
            "precision": precision,
            "progress": "rich",
            "log_every_n_steps": 10,
            "gradient_clip": 10.0,
            "precise_bn_batches": plan.precise_bn_batches,
            "freeze_batchnorm_at": plan.freeze_batchnorm_at,
            "val_every_n_epochs": 1,
        },
    }


def run_demo(
    out: str | Path = "runs/demo",
    quick: bool = False,
    budget_minutes: float | None = None,
    plan: DemoPlan | None = None,
    precision: str = "auto",
) -> dict[str, Any]:
    """Run the demo; returns ``metrics.json``'s content.

    Args:
        out: Output folder.
        quick: The small plan.
        budget_minutes: Stop training after this many minutes even if planned steps remain (the
            report then says so first); ``None`` trains every planned step.
        plan: Sizes to use instead of the full or quick plan (benchmarks).
        precision: Training precision (``auto``: chosen per machine, see :mod:`handpose.training.precision`).
    """
    import torch

    plan = plan or (QUICK if quick else FULL)
    out = Path(out)
    _prepare(out)
    torch.set_num_threads(training_threads(plan.loader_workers))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    _say(f"1/6 rendering {plan.test_frames} test frames (NYU camera, right hands)")
    from handpose.synth.writer import write_synthetic

    start = time.perf_counter()
    write_synthetic(
        out / "data" / "test", plan.test_frames, seed=TEST_SEED, camera=CAMERA, workers=plan.render_workers, hands=HANDS
    )
    timings["render_s"] = time.perf_counter() - start

    frames = plan.train_steps * plan.batch_size
    _say(
        f"2/6 training CrossInfoNet for {plan.train_steps} steps on {frames} frames rendered as it goes"
        + _budget_text(budget_minutes)
    )
    from handpose.training.config import config_from_dict
    from handpose.training.run import train

    start = time.perf_counter()
    cfg = config_from_dict(demo_config(plan, out, budget_minutes, precision), source="demo")
    summary = train(cfg)
    timings["train_s"] = time.perf_counter() - start
    best = summary["best_checkpoint"]
    if not best:
        raise HandposeError("training produced no checkpoint")

    _say("3/6 evaluating on the held-out test frames")
    start = time.perf_counter()
    evaluation = evaluate_demo(Path(best), out)
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
        "loader_workers": plan.loader_workers,
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


def evaluate_demo(checkpoint: Path, out: Path) -> dict[str, Any]:
    """Scores of the model and of the mean-pose baseline on the test frames (same crops)."""
    from handpose.datasets.synthetic import SyntheticStream
    from handpose.evaluation.checkpoint import score_depth, write_plots
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset

    est = Estimator.load(checkpoint)
    test = open_eval_dataset(est, "synthetic", str(out / "data" / "test"), "test")
    preds = predict_dataset(est, test, description="test frames")
    model_scores = score_depth(preds.pred_xyz, preds.gt_xyz)

    stream = SyntheticStream(MEAN_POSE_FRAMES, seed=TRAIN_SEED, camera=CAMERA, hands=HANDS)
    baseline_xyz = mean_pose_predictions(est, preds, stream.labels_xyz())
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


def mean_pose_predictions(est: Any, preds: Any, train_joints_xyz: np.ndarray) -> np.ndarray:
    """The mean-pose baseline's joints (camera mm) for predicted frames: the training frames' mean
    normalised pose, decoded with each frame's own crop (``preds`` from ``predict_dataset``)."""
    from handpose.codecs import cube as cube_codec

    mean = np.broadcast_to(training_mean_pose(est, train_joints_xyz), preds.gt_xyz.shape)
    g = preds.geometry
    return np.asarray(cube_codec.decode(mean, g["center_xyz"], g["cube"], g["rotation_deg"], g["camera"]))


def training_mean_pose(est: Any, joints_xyz: np.ndarray) -> np.ndarray:
    """Mean normalised pose ``(J, 3)`` of training joints ``(N, J, 3)`` (camera mm), with the contract's crop centring."""
    from handpose.codecs import cube as cube_codec
    from handpose.geometry import get_camera
    from handpose.skeleton import get

    crop = est.contract.depth_crop
    if crop.train_center != "gt":
        raise HandposeError("the mean-pose baseline assumes crops centred on the labelled joint")
    root = get(est.skeleton).root_index
    cube = (crop.cube_mm,) * 3
    joints = np.asarray(joints_xyz, dtype=np.float64)
    cam = get_camera(CAMERA)
    camera = (cam.fx, cam.fy, cam.cx, cam.cy)
    # Without rotation a cube crop normalises as (xyz - centre) / (cube / 2); the centre is the root joint.
    return np.mean([cube_codec.encode(j, j[root], cube, 0.0, camera) for j in joints], axis=0)


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
