"""Scores of a trained model's predictions on a dataset split (``handpose evaluate --checkpoint``).

:mod:`handpose.model_evaluation` runs the model (a training checkpoint or an exported package) on every
frame of a split, cropped exactly as its preprocessing contract says; this module scores its joints in
camera-space mm and writes the results, and knows nothing of models:

- depth models: mean / median / per-joint 3D error and the max-error success-rate curve (0-80 mm),
  the public tables' protocol; for ICVL, NYU and MSRA the predictions are also written in the public
  uvd format (one line per frame, J x ``u v d`` with the table's intrinsics), so that
  ``handpose evaluate PRED --dataset nyu --gt ...`` scores them next to the published methods;
- RGB models: PCK curve and AUC over 20-50 mm (Zimmermann), mean error and PA-MPJPE.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose import metrics
from handpose.errors import HandposeError
from handpose.io import write_text_atomic

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

    data = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else dict(obj)
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


def evaluation_report(
    preds: PredictionSet,
    model: str,
    model_name: str,
    dataset: str,
    split: str,
    modality: str,
    skeleton: str,
    joint_names: list[str],
) -> dict[str, Any]:
    """The report of a model's predictions on a split: the depth or the RGB tables' scores, and what was scored.

    Args:
        preds: The predictions and labels.
        model: The model file scored.
        model_name: Its registry name.
        dataset: Dataset name.
        split: Dataset split.
        modality: ``"depth"`` or ``"rgb"``.
        skeleton: The joints' skeleton name.
        joint_names: Their names.
    """
    if modality == "depth":
        scores = score_depth(preds.pred_xyz, preds.gt_xyz)
    else:
        from handpose import skeleton as skeletons

        scores = score_rgb(preds.pred_xyz, preds.gt_xyz, preds.visible, skeletons.get(skeleton).root_index)
    return {
        "model": model,
        "model_name": model_name,
        "dataset": dataset,
        "split": split,
        "modality": modality,
        "skeleton": skeleton,
        "joint_names": list(joint_names),
        **scores,
    }


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


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report in a few lines for a terminal: the headline scores, then the files written."""
    head = f"{report['model_name']} on {report['dataset']} {report['split']} ({report['frames']} frames): "
    if report["modality"] == "depth":
        lines = [
            head + f"mean {report['mean_error_mm']:.2f} mm, median {report['median_error_mm']:.2f} mm, "
            f"frames within 20/40 mm: {100 * report['success_at_20mm']:.1f}% / {100 * report['success_at_40mm']:.1f}%"
        ]
    else:
        auc = report.get("auc_20_50", report.get("auc"))
        auc_text = f", AUC(20-50 mm) {auc:.3f}" if isinstance(auc, float) else ""
        lines = [
            head
            + f"root-relative mean {report['mean_error_mm']:.2f} mm, PA-MPJPE {report['pa_mpjpe_mm']:.2f} mm{auc_text}"
        ]
    for key in ("predictions_uvd", "plots"):
        if key in report:
            lines.append(f"{key.replace('_', ' ')}: {report[key]}")
    return lines
