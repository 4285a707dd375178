"""Score a trained model on a dataset split: the orchestration behind ``handpose evaluate --checkpoint``.

It loads the model (:class:`~handpose.inference.Estimator`), crops the split exactly as the model's
preprocessing contract says, runs the network over every frame and hands the predictions to the
scoring functions of :mod:`handpose.evaluation.checkpoint`, which know nothing of models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.evaluation.checkpoint import (
    PUBLIC_UVD,
    PredictionSet,
    TerminalProgress,
    evaluation_report,
    write_plots,
    write_public_uvd,
)
from handpose.io import write_json_atomic

GEOMETRY_KEYS = ("center_xyz", "cube", "rotation_deg", "camera", "root_xyz", "scale", "K_crop")


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``handpose evaluate --checkpoint`` was asked to do.

    Attributes:
        model: Training checkpoint or model package.
        dataset: Dataset name.
        root: Dataset root folder.
        split: Dataset split.
        runtime: ``"torch"``, ``"onnx"`` or ``"onnx-int8"``.
        json_path: Where to write the report as JSON (optional).
        plot_dir: Where to write the figures (optional).
        progress: Show a progress bar on a terminal.
    """

    model: str | Path
    dataset: str
    root: str | Path
    split: str = "test"
    runtime: str = "torch"
    json_path: str | Path | None = None
    plot_dir: str | Path | None = None
    progress: bool = True


def evaluate_model(request: EvaluationRequest) -> dict[str, Any]:
    """Run the model over the split and return its report (also written where the request says).

    Raises:
        HandposeError: A bad model, dataset, or a dataset of the other modality.
    """
    from handpose.inference import Estimator

    if not request.root:
        raise HandposeError("--root DIR is needed with --checkpoint")
    est = Estimator.load(request.model, runtime=request.runtime)
    dataset = open_eval_dataset(est, request.dataset, str(request.root), request.split)
    preds = predict_dataset(est, dataset, progress=request.progress, description=f"{request.dataset} {request.split}")
    report = evaluation_report(
        preds,
        model=str(request.model),
        model_name=est.contract["model"],
        dataset=request.dataset,
        split=request.split,
        modality=est.modality,
        skeleton=est.skeleton,
        joint_names=est.joint_names,
    )
    out_dir = _output_dir(request)
    if est.modality == "depth" and request.dataset in PUBLIC_UVD:
        uvd_path = out_dir / f"{request.dataset}_{request.split}_{Path(request.model).stem}_uvd.txt"
        write_public_uvd(uvd_path, request.dataset, preds.pred_xyz, est.skeleton)
        report["predictions_uvd"] = str(uvd_path)
    if request.plot_dir:
        figures = write_plots(report, est.joint_names, Path(request.plot_dir), request.dataset)
        report["plots"] = [str(p) for p in figures]
    if request.json_path:
        write_json_atomic(request.json_path, report)
    return report


def _output_dir(request: EvaluationRequest) -> Path:
    if request.json_path:
        return Path(request.json_path).resolve().parent
    if request.plot_dir:
        return Path(request.plot_dir)
    return Path(request.model).resolve().parent


def open_eval_dataset(est: Any, name: str, root: str, split: str) -> Any:
    """The :class:`~handpose.training.data.CropDataset` of a split, cropped as the estimator's contract says."""
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
            for key in GEOMETRY_KEYS:
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
