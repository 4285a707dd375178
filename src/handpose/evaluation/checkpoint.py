"""``handpose evaluate --checkpoint CKPT --dataset NAME --root DIR [--split test]``: score a trained model.

The model (a training checkpoint or an exported package) runs on every frame of a dataset split,
cropped exactly as its preprocessing contract says, and its joints are scored in camera-space mm:

- depth models: mean / median / per-joint 3D error and the max-error success-rate curve (0-80 mm),
  the public tables' protocol; for ICVL, NYU and MSRA the predictions are also written in the public
  uvd format (one line per frame, J x ``u v d`` with the table's intrinsics), so that
  ``handpose evaluate PRED --dataset nyu --gt ...`` scores them next to the published methods;
- RGB models: PCK curve and AUC over 20-50 mm (Zimmermann), mean error and PA-MPJPE.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose import metrics
from handpose.errors import HandposeError
from handpose.io import write_json_atomic, write_text_atomic

PUBLIC_UVD = ("icvl", "nyu", "msra")


@dataclass
class PredictionSet:
    """A model's predictions on a set of frames, with what is needed to score and plot them.

    Attributes:
        pred_xyz: ``(N, J, 3)`` predictions, camera mm.
        gt_xyz: ``(N, J, 3)`` labels, camera mm.
        visible: ``(N, J)`` label visibility.
        pred_norm: ``(N, J, 3)`` raw network outputs (the model's output space).
        gt_norm: ``(N, J, 3)`` the same labels in the output space.
        geometry: Per-frame crop geometry arrays (``center_xyz``, ``cube``, ``rotation_deg``, ``camera``,
            or the RGB keys), stacked.
        frame_ids: Frame identifiers.
    """

    pred_xyz: np.ndarray
    gt_xyz: np.ndarray
    visible: np.ndarray
    pred_norm: np.ndarray
    gt_norm: np.ndarray
    geometry: dict[str, np.ndarray] = field(default_factory=dict)
    frame_ids: list[str] = field(default_factory=list)


def predict_dataset(
    est: Any,
    dataset: Any,
    batch_size: int = 32,
    progress: bool = True,
    description: str = "evaluating",
) -> PredictionSet:
    """Run an :class:`~handpose.inference.Estimator` over a :class:`~handpose.training.data.CropDataset`."""
    from handpose.inference import decode_rows

    n = len(dataset)
    if n == 0:
        raise HandposeError("the dataset split has no frames")
    preds, gts, vis, outs, targets, frame_ids = [], [], [], [], [], []
    geometry: dict[str, list[np.ndarray]] = {}
    with TerminalProgress(progress) as bar:
        task = bar.add_task(description, total=n) if bar else None
        for start in range(0, n, batch_size):
            samples = [dataset.sample(i) for i in range(start, min(start + batch_size, n))]
            rows = [dataset.transform(sample, None) for sample in samples]
            batch = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
            images = batch["image"].astype(np.float32)
            if len(rows) < batch_size and n > batch_size:
                # Same batch shape throughout: CPU kernels are prepared per shape, and a new one costs seconds.
                pad = np.repeat(images[-1:], batch_size - len(rows), axis=0)
                images = np.concatenate([images, pad])
            out = est.forward(images)[: len(rows)]
            preds.append(decode_rows(est.contract, out, batch))
            gts.append(batch["joints_xyz"].astype(np.float64))
            vis.append(batch.get("visible", np.ones(batch["joints_xyz"].shape[:2], bool)))
            outs.append(out)
            targets.append(batch["joints"].astype(np.float64))
            for key in ("center_xyz", "cube", "rotation_deg", "camera", "root_xyz", "scale", "K_crop"):
                if key in batch:
                    geometry.setdefault(key, []).append(batch[key])
            frame_ids.extend(str(sample.frame_id) for sample in samples)
            if bar:
                bar.update(task, advance=len(rows))
    return PredictionSet(
        pred_xyz=np.concatenate(preds),
        gt_xyz=np.concatenate(gts),
        visible=np.concatenate(vis).astype(bool),
        pred_norm=np.concatenate(outs),
        gt_norm=np.concatenate(targets),
        geometry={k: np.concatenate(v) for k, v in geometry.items()},
        frame_ids=frame_ids,
    )


class TerminalProgress:
    """A rich progress bar on a terminal, nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bar.__enter__()
        return self.bar

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def score_depth(pred_xyz: np.ndarray, gt_xyz: np.ndarray) -> dict[str, Any]:
    """The depth tables' scores: mean/median/per-joint error and the max-error success curve."""
    errors = np.asarray(metrics.joint_errors(pred_xyz, gt_xyz), dtype=np.float64)
    thresholds = np.asarray(metrics.SUCCESS_THRESHOLDS_MM, dtype=np.float64)
    curve = np.asarray(metrics.success_rate(errors, thresholds, "max"))
    return {
        "frames": int(errors.shape[0]),
        "mean_error_mm": float(metrics.mean_error(errors)),
        "median_error_mm": float(metrics.median_error(errors)),
        "per_joint_mm": [float(v) for v in metrics.per_joint_error(errors)],
        "success_rate": {"thresholds_mm": thresholds.tolist(), "max_error": curve.tolist()},
        "success_at_20mm": float(metrics.success_rate(errors, [20.0], "max")[0]),
        "success_at_40mm": float(metrics.success_rate(errors, [40.0], "max")[0]),
    }


def score_rgb(pred_xyz: np.ndarray, gt_xyz: np.ndarray, visible: np.ndarray, root: int) -> dict[str, Any]:
    """The RGB tables' scores on root-relative joints: PCK/AUC (20-50 mm), mean error, PA-MPJPE."""
    pred_rel = pred_xyz - pred_xyz[:, root : root + 1]
    gt_rel = gt_xyz - gt_xyz[:, root : root + 1]
    result = metrics.rgb_protocol(pred_rel, gt_rel, visible)
    errors = np.asarray(metrics.joint_errors(pred_rel, gt_rel), dtype=np.float64)
    out = {
        "frames": int(errors.shape[0]),
        "mean_error_mm": float(metrics.mean_error(errors, visible)),
        "median_error_mm": float(metrics.median_error(errors, visible)),
        "per_joint_mm": [float(v) for v in metrics.per_joint_error(errors, visible)],
        "pa_mpjpe_mm": float(metrics.pa_mpjpe(pred_xyz, gt_xyz)),
    }
    out.update(_plain(result))
    return out


def _plain(obj: Any) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(obj)
    return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in data.items()}


def write_public_uvd(path: Path, dataset: str, pred_xyz: np.ndarray, skeleton: str) -> Path:
    """Predictions in the public table format of ``dataset`` (one line per frame, J x ``u v d``)."""
    from handpose import skeleton as skeletons
    from handpose.evaluation.evaluator import get_benchmark

    bench = get_benchmark(dataset)
    joints = pred_xyz
    if skeleton != bench.skeleton:
        joints = skeletons.get(skeleton).convert(pred_xyz, bench.skeleton)
        if not np.all(np.isfinite(joints)):
            raise HandposeError(f"the model's skeleton {skeleton!r} cannot give every joint of {bench.skeleton!r}")
    uvd = bench.camera.xyz_to_uvd(joints)
    lines = [" ".join(f"{v:.4f}" for v in frame.reshape(-1)) for frame in uvd]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def open_eval_dataset(est: Any, name: str, root: str, split: str) -> Any:
    """The :class:`CropDataset` of a split, cropped as the estimator's contract says."""
    from handpose.datasets import open_dataset
    from handpose.training.contract import make_transform
    from handpose.training.data import CropDataset

    reader = open_dataset(name, root, split)
    modality = getattr(reader, "modality", est.modality)
    if modality != est.modality:
        raise HandposeError(
            f"model {est.contract['model']!r} takes {est.modality} images; dataset {name!r} is {modality}"
        )
    transform = make_transform(est.contract, train=False, augment=False)
    return CropDataset(reader, transform, seed=0, skeleton=est.skeleton)


def evaluate_checkpoint(args: argparse.Namespace) -> int:
    """Entry point of ``handpose evaluate --checkpoint``."""
    from handpose.training.cpu import configure_cpu_threads

    configure_cpu_threads()
    from handpose.inference import Estimator

    if not args.root:
        raise HandposeError("--root DIR is needed with --checkpoint")
    est = Estimator.load(args.checkpoint, runtime=getattr(args, "runtime", "torch"))
    dataset = open_eval_dataset(est, args.dataset, args.root, args.split)
    preds = predict_dataset(est, dataset, description=f"{args.dataset} {args.split}")
    report = evaluation_report(est, preds, args.dataset, args.split, str(args.checkpoint))

    out_dir = _output_dir(args)
    if est.modality == "depth" and args.dataset in PUBLIC_UVD:
        uvd_path = out_dir / f"{args.dataset}_{args.split}_{Path(args.checkpoint).stem}_uvd.txt"
        write_public_uvd(uvd_path, args.dataset, preds.pred_xyz, est.skeleton)
        report["predictions_uvd"] = str(uvd_path)
    if args.plot:
        report["plots"] = [str(p) for p in write_plots(report, est.joint_names, Path(args.plot), args.dataset)]
    if args.json:
        write_json_atomic(args.json, report)
    print_report(report)
    return 0


def evaluation_report(est: Any, preds: PredictionSet, dataset: str, split: str, model: str) -> dict[str, Any]:
    if est.modality == "depth":
        scores = score_depth(preds.pred_xyz, preds.gt_xyz)
    else:
        from handpose import skeleton as skeletons

        scores = score_rgb(preds.pred_xyz, preds.gt_xyz, preds.visible, skeletons.get(est.skeleton).root_index)
    return {
        "model": model,
        "model_name": est.contract["model"],
        "dataset": dataset,
        "split": split,
        "modality": est.modality,
        "skeleton": est.skeleton,
        "joint_names": est.joint_names,
        **scores,
    }


def _output_dir(args: argparse.Namespace) -> Path:
    if args.json:
        return Path(args.json).resolve().parent
    if args.plot:
        return Path(args.plot)
    return Path(args.checkpoint).resolve().parent


def write_plots(report: dict[str, Any], joint_names: list[str], out_dir: Path, title: str) -> list[Path]:
    """Success-rate curve and per-joint bars (depth), or the PCK curve (RGB), as PNGs in ``out_dir``."""
    from handpose.evaluation import plots

    name = report["model_name"]
    if report["modality"] == "depth":
        per_joint = np.asarray(report["per_joint_mm"])
        result = _result_from_report(report, name, per_joint)
        return [
            plots.plot_success_curves([result], out_dir / "success_rate.png", title=title),
            plots.plot_per_joint_errors([result], joint_names, out_dir / "per_joint_error.png", title=title),
        ]
    from handpose.visualize import plot_pck

    return [plot_pck(report, out_dir / "pck.png", title=title)]


def _result_from_report(report: dict[str, Any], name: str, per_joint: np.ndarray) -> Any:
    """A :class:`MethodResult` for the plot helpers, which read per-joint means and the success curve.

    Its single error row holds the per-joint means (so the per-joint bars and the mean are the
    report's); the success curve is the report's own, computed on every frame.
    """
    from handpose.evaluation.evaluator import MethodResult

    errors = per_joint[None].astype(np.float64)
    return MethodResult(
        prediction=report["model"],
        method=name,
        read_as="model",
        errors=errors,
        thresholds_mm=np.asarray(report["success_rate"]["thresholds_mm"]),
        success_max=np.asarray(report["success_rate"]["max_error"]),
    )


def print_report(report: dict[str, Any]) -> None:
    if report["modality"] == "depth":
        print(
            f"{report['model_name']} on {report['dataset']} {report['split']} ({report['frames']} frames): "
            f"mean {report['mean_error_mm']:.2f} mm, median {report['median_error_mm']:.2f} mm, "
            f"frames within 20/40 mm: {100 * report['success_at_20mm']:.1f}% / {100 * report['success_at_40mm']:.1f}%"
        )
    else:
        auc = report.get("auc_20_50", report.get("auc"))
        auc_text = f", AUC(20-50 mm) {auc:.3f}" if isinstance(auc, float) else ""
        print(
            f"{report['model_name']} on {report['dataset']} {report['split']} ({report['frames']} frames): "
            f"root-relative mean {report['mean_error_mm']:.2f} mm, PA-MPJPE {report['pa_mpjpe_mm']:.2f} mm{auc_text}"
        )
    for key in ("predictions_uvd", "plots"):
        if key in report:
            print(f"{key.replace('_', ' ')}: {report[key]}")
