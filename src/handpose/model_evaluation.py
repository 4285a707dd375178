"""Score a trained model on a dataset split: the orchestration behind ``handpose evaluate --checkpoint``.

It loads the model (:class:`~handpose.inference.Estimator`), crops the split exactly as the model's
preprocessing contract says, runs the network over every frame and hands the predictions to the
scoring functions of :mod:`handpose.evaluation.checkpoint`, which know nothing of models.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose import fingertip_evaluation
from handpose.errors import HandposeError
from handpose.evaluation.checkpoint import (
    PUBLIC_UVD,
    PredictionSet,
    TerminalProgress,
    evaluation_report,
    write_plots,
    write_public_uvd,
)
from handpose.evaluation.server import server_scored, write_server_submission
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
        reader_options: Extra reader arguments (``subject`` for an MSRA fold; a training checkpoint's
            own ``data.subject`` is the default).
        centers: A centre file (A2J ``*_center_test.mat``, V2V text) to crop depth frames on instead
            of centres from the labels.
        visible_only: RGB: score only the joints labelled visible (Zimmermann's EvalUtil) instead of
            all joints (Learnable Groups' protocol).
    """

    model: str | Path
    dataset: str
    root: str | Path
    split: str = "test"
    runtime: str = "torch"
    json_path: str | Path | None = None
    plot_dir: str | Path | None = None
    progress: bool = True
    reader_options: dict[str, Any] = field(default_factory=dict)
    centers: str | Path | None = None
    visible_only: bool = False


def evaluate_model(request: EvaluationRequest) -> dict[str, Any]:
    """Run the model over the split and return its report (also written where the request says).

    Raises:
        HandposeError: A bad model, dataset, or a dataset of the other modality.
    """
    from handpose.inference import Estimator

    if not request.root:
        raise HandposeError("--root DIR is needed with --checkpoint")
    est = Estimator.load(request.model, runtime=request.runtime)
    if est.modality == "rgb" and fingertip_evaluation.labels_fingertips_only(request.dataset):
        # Dexter+Object labels fingertips only: its own lifting and protocol.
        return fingertip_evaluation.evaluate_fingertips(
            est, request.dataset, str(request.root), request.split, str(request.model), request.json_path
        )
    options = eval_reader_options(est, request)
    dataset = open_eval_dataset(
        est, request.dataset, str(request.root), request.split, options, given_centers=request.centers is not None
    )
    preds = predict_dataset(est, dataset, progress=request.progress, description=f"{request.dataset} {request.split}")
    if server_scored(request.dataset, preds.gt_xyz):
        return _submission_report(est, preds, request)
    if est.modality == "rgb" and not request.visible_only:
        # Learnable Groups scores every joint, occluded or not; only unlabelled ones are left out.
        preds = dataclasses.replace(preds, visible=np.all(np.isfinite(preds.gt_xyz), axis=-1))
    report = evaluation_report(
        preds,
        model=str(request.model),
        model_name=est.contract.model,
        dataset=request.dataset,
        split=request.split,
        modality=est.modality,
        skeleton=est.skeleton,
        joint_names=est.joint_names,
    )
    report.update({k: v for k, v in options.items() if k in ("subject", "joints")})
    if request.centers is not None:
        report["centers"] = str(request.centers)
    if est.modality == "rgb":
        report["scored_joints"] = "visible" if request.visible_only else "all"
    out_dir = _output_dir(request)
    stem = f"{request.dataset}_{request.split}_{Path(request.model).stem}"
    if est.modality == "depth" and request.dataset in PUBLIC_UVD:
        uvd_path = out_dir / f"{stem}_uvd.txt"
        write_public_uvd(uvd_path, request.dataset, preds.pred_xyz, est.skeleton)
        report["predictions_uvd"] = str(uvd_path)
    if request.dataset == "freihand":
        from handpose.evaluation.freihand import freihand_scores
        from handpose.evaluation.submission import write_freihand_pred

        report["freihand"] = freihand_scores(preds.pred_xyz, preds.gt_xyz, est.skeleton)
        pred_path = write_freihand_pred(out_dir / f"{stem}_pred.json", preds.pred_xyz, est.skeleton, None)
        report["predictions_json"] = str(pred_path)
    if request.plot_dir:
        figures = write_plots(report, est.joint_names, Path(request.plot_dir), request.dataset)
        report["plots"] = [str(p) for p in figures]
    if request.json_path:
        write_json_atomic(request.json_path, report)
    return report


def _submission_report(est: Any, preds: PredictionSet, request: EvaluationRequest) -> dict[str, Any]:
    """A split without labels (scored on the benchmark's server): the submission file, no scores."""
    stem = f"{request.dataset}_{request.split}_{Path(request.model).stem}"
    names = [Path(f).name for f in preds.frame_ids]
    path = write_server_submission(request.dataset, _output_dir(request), stem, preds.pred_xyz, est.skeleton, names)
    report = {
        "model": str(request.model),
        "model_name": est.contract.model,
        "dataset": request.dataset,
        "split": request.split,
        "modality": est.modality,
        "skeleton": est.skeleton,
        "frames": len(preds.pred_xyz),
        "scored": False,
        "submission": str(path),
    }
    if request.json_path:
        write_json_atomic(request.json_path, report)
    return report


def _output_dir(request: EvaluationRequest) -> Path:
    if request.json_path:
        return Path(request.json_path).resolve().parent
    if request.plot_dir:
        return Path(request.plot_dir)
    return Path(request.model).resolve().parent


def eval_reader_options(est: Any, request: EvaluationRequest) -> dict[str, Any]:
    """Reader arguments for scoring: the checkpoint's MSRA fold, the model's joint set, a centre file.

    A training checkpoint of a leave-one-subject-out fold is scored on its own held-out subject unless
    the request names another. A reader offering several joint sets (NYU: ``nyu14``, ``nyu36``) is
    asked for the model's.
    """
    from handpose.datasets.base import get_dataset_class

    options = dict(request.reader_options)
    if request.dataset == "msra" and "subject" not in options:
        data = (est.info.get("config") or {}).get("data", {})
        subject = data.get("subject", (data.get("reader_kwargs") or {}).get("subject"))
        if subject is None:
            # Scoring on a subject the model trained on would flatter it: never guess the fold.
            raise HandposeError("the model does not record its MSRA fold; name the held-out subject with --subject K")
        options["subject"] = int(subject)
    if est.skeleton in getattr(get_dataset_class(request.dataset), "joint_sets", ()):
        options.setdefault("joints", est.skeleton)
    if request.centers is not None:
        options["centers"] = str(request.centers)
    return options


def open_eval_dataset(
    est: Any,
    name: str,
    root: str,
    split: str,
    options: dict[str, Any] | None = None,
    given_centers: bool = False,
) -> Any:
    """The :class:`~handpose.training.data.CropDataset` of a split, cropped as the estimator's contract says.

    Args:
        est: The model.
        name: Dataset name.
        root: Dataset root.
        split: Split.
        options: Reader arguments (:func:`eval_reader_options`).
        given_centers: Crop depth frames on the reader's centre file instead of the contract's centre.
    """
    from handpose.datasets import open_dataset
    from handpose.training.data import CropDataset
    from handpose.transforms import make_transform

    try:
        reader = open_dataset(name, root, split, **(options or {}))
    except TypeError as exc:
        raise HandposeError(f"reader options {sorted(options or {})} do not fit the {name} reader: {exc}") from None
    modality = getattr(reader, "modality", est.modality)
    if modality != est.modality:
        raise HandposeError(f"model {est.contract.model!r} takes {est.modality} images; dataset {name!r} is {modality}")
    center = "given" if given_centers and est.modality == "depth" else None
    transform = make_transform(est.contract, train=False, augment=False, center=center)
    return CropDataset(reader, transform, seed=0, skeleton=est.skeleton)


def predict_dataset(
    est: Any,
    dataset: Any,
    batch_size: int = 32,
    progress: bool = True,
    description: str = "evaluating",
) -> PredictionSet:
    """Run an :class:`~handpose.inference.Estimator` over a :class:`~handpose.training.data.CropDataset`."""
    n = len(dataset)
    if n == 0:
        raise HandposeError("the dataset split has no frames")
    preds: list[np.ndarray] = []
    gts: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    outs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    frame_ids: list[str] = []
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
            preds.append(est.decode_batch(out, batch))
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
