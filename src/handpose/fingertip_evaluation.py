"""Scoring an RGB model on Dexter+Object, whose frames label only the five fingertips.

RGB models predict 2.5D joints that become millimetres with a root depth and a hand size. RHD, STB
and FreiHAND label both; D+O labels neither (no wrist, no knuckle). So here, as for a photo, the
hand size is the one the model was trained on (the contract's ``hand_scale_mm``), the root depth of
``"uvz"`` outputs is recovered from the 2D joints, and the predicted fingertips are then moved onto
the labelled fingertips' centroid before the distances are taken
(:func:`handpose.metrics.dexter_object_protocol`: fingertip AUC over 0-50 mm and over 0-100 mm).
The crop is the box around the labelled fingertips (the crop transform's keypoint box).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handpose import metrics
from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.io import write_json_atomic


def labels_fingertips_only(dataset: str) -> bool:
    """Whether a dataset labels too few joints to place a hand (no root or scale bone: Dexter+Object)."""
    from handpose.datasets.base import get_dataset_class

    name = getattr(get_dataset_class(dataset), "skeleton", None)
    return isinstance(name, str) and skeletons.get(name).scale_bone_indices is None


def _value(contract: Any, key: str) -> Any:
    return contract.get(key) if isinstance(contract, dict) else getattr(contract, key, None)


def lift(est: Any, out: np.ndarray, batch: dict[str, np.ndarray]) -> np.ndarray:
    """Camera mm of 2.5D outputs without a labelled root or scale, at the model's training hand size."""
    from handpose.codecs import decode_batch

    scale = _value(est.contract, "hand_scale_mm")
    if not scale:
        raise HandposeError("the model records no training hand size (hand_scale_mm) to place unlabelled hands with")
    geometry = {k: np.asarray(v) for k, v in batch.items() if k != "root_xyz"}
    geometry["scale"] = np.full(len(out), float(scale))
    space = str(_value(est.contract, "output_space"))
    if space == "rel":
        # Root-relative outputs carry no position; the centroid alignment supplies it.
        geometry["root_xyz"] = np.zeros((len(out), 3))
    return np.asarray(decode_batch(out, geometry, space, skeleton=est.skeleton, bounded=True), dtype=np.float64)


def predict_fingertips(est: Any, dataset: Any, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and labelled fingertips ``(N, 5, 3)`` mm (labels NaN where not annotated)."""
    model = skeletons.get(est.skeleton)
    preds, gts = [], []
    for start in range(0, len(dataset), batch_size):
        rows = [dataset.transform(dataset.sample(i), None) for i in range(start, min(start + batch_size, len(dataset)))]
        batch = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
        out = est.forward(batch["image"].astype(np.float32))
        preds.append(model.convert(lift(est, out, batch), "dexter5"))
        gts.append(model.convert(batch["joints_xyz"].astype(np.float64), "dexter5"))
    pred, gt = np.concatenate(preds), np.concatenate(gts)
    if not np.all(np.isfinite(pred)):
        raise HandposeError(f"the model's skeleton {est.skeleton!r} has no five fingertips to score")
    return pred, gt


def evaluate_fingertips(
    est: Any, dataset_name: str, root: str, split: str, model: str, json_path: Any = None
) -> dict[str, Any]:
    """The Dexter+Object report of a model (written to ``json_path`` when given)."""
    from handpose.datasets import open_dataset
    from handpose.training.data import CropDataset
    from handpose.transforms import make_transform

    if est.modality != "rgb":
        raise HandposeError(f"{dataset_name} is an RGB dataset; the model takes {est.modality} images")
    reader = open_dataset(dataset_name, root, split)
    transform = make_transform(est.contract, train=False, augment=False)
    # The reader's own joints: the transform maps them to the model's order, the missing ones NaN.
    dataset = CropDataset(reader, transform, seed=0, skeleton=None)
    if len(dataset) == 0:
        raise HandposeError("the dataset split has no frames")
    pred, gt = predict_fingertips(est, dataset)
    result = metrics.dexter_object_protocol(pred, gt)
    report = {
        "model": model,
        "model_name": _value(est.contract, "model"),
        "dataset": dataset_name,
        "split": split,
        "modality": "rgb",
        "skeleton": "dexter5",
        "joint_names": list(skeletons.get("dexter5").joint_names),
        "protocol": "fingertips; lifted at the model's hand size, moved onto the labelled fingertip centroid",
        "frames": result.frames,
        "mean_error_mm": result.mean_error_mm,
        "median_error_mm": result.median_error_mm,
        "auc_0_50": result.auc_0_50,
        "auc_0_100": result.auc_0_100,
        "thresholds_mm": result.thresholds_mm.tolist(),
        "pck": result.pck.tolist(),
    }
    if json_path:
        write_json_atomic(json_path, report)
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """The fingertip report in one line for a terminal."""
    return [
        f"{report['model_name']} on {report['dataset']} {report['split']} ({report['frames']} frames, fingertips): "
        f"mean {report['mean_error_mm']:.2f} mm, AUC(0-50 mm) {report['auc_0_50']:.3f}, "
        f"AUC(0-100 mm) {report['auc_0_100']:.3f}"
    ]
