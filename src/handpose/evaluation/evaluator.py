"""Score prediction files against a depth benchmark's ground truth (ICVL, NYU, MSRA).

The protocol is the one behind the public tables (``awesome-hand-pose-estimation/evaluation``):
uvd files are back-projected with the tables' intrinsics, the error of a joint is its Euclidean 3D
distance in mm, the mean error averages over every frame and joint (no alignment, no frame left out),
and the success-rate curve counts frames whose worst joint is within ``t`` mm, ``t = 0..80``.

Everything is compared in handpose's camera frame (y down). The NYU table's ``fy = -587.07`` flips y
on both sides of every difference, so distances, and therefore every number, are the same.

Prediction coordinates: ``--format uvd`` / ``xyz`` states them. With ``auto``, a ``.mat``/``.npz`` key
that names them decides (``joint_est_wld_xyz`` -> xyz), an image-name column means xyz (the
``*_denseReg_ori.txt`` files); otherwise, and for the y direction of any xyz file (some are y-up), the
reading closest to the ground truth is taken. Wrong readings are off by hundreds of millimetres (a
flipped y mirrors the hand about the optical axis), so the choice is never close; it is reported with
each result (``read_as``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handpose import metrics
from handpose.errors import HandposeError
from handpose.evaluation.formats import JointFile, read_joints
from handpose.geometry import Camera, get_camera, uvd_to_xyz

FormatChoice = Literal["auto", "uvd", "xyz"]

#: Frames (evenly spread) used to decide how to read a file whose coordinates it does not state.
DECISION_FRAMES = 256


@dataclass(frozen=True)
class DepthBenchmark:
    """What the public table of one depth dataset needs.

    Attributes:
        name: ``"icvl"``, ``"nyu"`` or ``"msra"``.
        num_joints: Joints per frame in the evaluation files (ICVL 16, NYU 14, MSRA 21).
        camera: The table's intrinsics (``*_eval`` preset), in handpose's y-down form.
        skeleton: Skeleton registry name of the evaluation joint order.
    """

    name: str
    num_joints: int
    camera: Camera
    skeleton: str


BENCHMARKS: dict[str, DepthBenchmark] = {
    "icvl": DepthBenchmark("icvl", 16, get_camera("icvl_eval").y_down(), "icvl16"),
    "nyu": DepthBenchmark("nyu", 14, get_camera("nyu_eval").y_down(), "nyu14"),
    "msra": DepthBenchmark("msra", 21, get_camera("msra_eval").y_down(), "msra21"),
}


def get_benchmark(name: str) -> DepthBenchmark:
    try:
        return BENCHMARKS[name.lower()]
    except KeyError:
        raise HandposeError(f"no prediction-file benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}") from None


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth joints of one benchmark.

    Attributes:
        path: The file, as given.
        xyz: ``(N, J, 3)`` camera-space mm, y down.
        benchmark: The benchmark it belongs to.
    """

    path: str
    xyz: np.ndarray
    benchmark: DepthBenchmark

    @property
    def frames(self) -> int:
        return int(self.xyz.shape[0])


def load_ground_truth(path: str | Path, benchmark: DepthBenchmark | str) -> GroundTruth:
    """Read a ground-truth file: uvd per joint (text, named text, .mat, .npy/.npz), converted to xyz.

    An array key that says xyz (``*xyz*``, ``*wld*``) is taken as camera-space mm instead.
    """
    bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    gt = read_joints(path, bench.num_joints)
    if gt.space == "xyz":
        xyz = gt.joints
    else:
        if (gt.joints[..., 2] <= 0).any():
            frame = int(np.argwhere(gt.joints[..., 2] <= 0)[0][0])
            raise HandposeError(f"frame {frame + 1} has a joint with depth <= 0; expected u v d with d in mm", path)
        xyz = uvd_to_xyz(gt.joints, bench.camera)
    return GroundTruth(str(path), xyz, bench)


@dataclass(frozen=True)
class MethodResult:
    """The scores of one prediction file.

    Attributes:
        prediction: The prediction file, as given.
        method: Display name (:func:`method_name`, or the one given).
        read_as: How the file was read, e.g. ``"text, uvd"`` or ``"mat:xyz_estimation, xyz (y flipped)"``.
        errors: ``(N, J)`` per-joint 3D errors in mm.
        thresholds_mm: ``(T,)`` success-rate thresholds (0..80 mm).
        success_max: ``(T,)`` fraction of frames whose worst joint is within each threshold.
    """

    prediction: str
    method: str
    read_as: str
    errors: np.ndarray
    thresholds_mm: np.ndarray = field(default_factory=lambda: metrics.SUCCESS_THRESHOLDS_MM.copy())
    success_max: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def frames(self) -> int:
        return int(self.errors.shape[0])

    @property
    def mean_error_mm(self) -> float:
        return float(metrics.mean_error(self.errors))

    @property
    def median_error_mm(self) -> float:
        return float(metrics.median_error(self.errors))

    @property
    def per_joint_mm(self) -> np.ndarray:
        return np.asarray(metrics.per_joint_error(self.errors))

    def success_at(self, threshold_mm: float) -> float:
        """Fraction of frames whose worst joint is within ``threshold_mm``."""
        return float(metrics.success_rate(self.errors, np.array([threshold_mm]), "max")[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "method": self.method,
            "frames": self.frames,
            "mean_error_mm": self.mean_error_mm,
            "median_error_mm": self.median_error_mm,
            "per_joint_mm": [float(v) for v in self.per_joint_mm],
            "success_rate": {
                "thresholds_mm": [float(t) for t in self.thresholds_mm],
                "max_error": [float(v) for v in self.success_max],
            },
            "read_as": self.read_as,
        }


_VENUE = re.compile(r"^(?:[A-Za-z]+\d{2}|arxiv)$", re.IGNORECASE)


def method_name(path: str | Path, dataset: str) -> str:
    """A readable method name from a prediction file name.

    Drops the dataset tag and a ``uvd`` tag and moves a leading venue-year tag to the end:
    ``CVPR18_NYU_HandPointNet.txt`` -> ``HandPointNet (CVPR18)``,
    ``CVPR18_ICVL_denseReg_ori.txt`` -> ``denseReg_ori (CVPR18)``.
    """
    stem = Path(path).stem
    tokens = [t for t in re.split(r"[_\s]+", stem) if t and t.lower() not in (dataset.lower(), "uvd")]
    venue = tokens.pop(0) if len(tokens) > 1 and _VENUE.match(tokens[0]) else None
    name = "_".join(tokens) or stem
    return f"{name} ({venue})" if venue else name


def parse_joint_order(text: str, num_joints: int) -> np.ndarray:
    """``"11,10,...,0"`` -> index array; it must be a permutation of ``0..num_joints-1``.

    Joint ``k`` of the reordered prediction is joint ``order[k]`` of the file.
    """
    try:
        order = np.array([int(t) for t in text.replace(" ", "").split(",") if t != ""], dtype=np.int64)
    except ValueError:
        raise HandposeError(f"--joint-order must be comma-separated joint indices, got {text!r}") from None
    if sorted(order.tolist()) != list(range(num_joints)):
        raise HandposeError(f"--joint-order must be a permutation of 0..{num_joints - 1}, got {text!r}")
    return order


def _readings(pred: JointFile, fmt: FormatChoice, camera: Camera) -> list[tuple[str, np.ndarray]]:
    joints = pred.joints
    stated = fmt if fmt != "auto" else pred.space or ("xyz" if pred.container == "named text" else None)
    options: list[tuple[str, np.ndarray]] = []
    if stated in (None, "uvd"):
        options.append(("uvd", uvd_to_xyz(joints, camera)))
    if stated in (None, "xyz"):
        options.append(("xyz", joints))
        options.append(("xyz (y flipped)", joints * np.array([1.0, -1.0, 1.0])))
    return options


def evaluate_prediction(
    path: str | Path,
    gt: GroundTruth,
    fmt: FormatChoice = "auto",
    joint_order: np.ndarray | None = None,
    name: str | None = None,
) -> MethodResult:
    """Score one prediction file.

    Args:
        path: Prediction file (any format :func:`~handpose.evaluation.formats.read_joints` reads).
        gt: Ground truth from :func:`load_ground_truth`.
        fmt: ``"uvd"``, ``"xyz"`` or ``"auto"`` (see the module docstring).
        joint_order: Optional permutation from :func:`parse_joint_order`.
        name: Method name; default from the file name.
    """
    bench = gt.benchmark
    pred = read_joints(path, bench.num_joints)
    if pred.frames != gt.frames:
        hint = ""
        if bench.name == "icvl" and pred.frames == 702:
            hint = " (702 frames is ICVL test_seq_1 only: use test_seq_1.txt as --gt)"
        raise HandposeError(f"{pred.frames} frames, but the ground truth {gt.path} has {gt.frames}{hint}", path)
    if joint_order is not None:
        pred = JointFile(pred.path, pred.joints[:, joint_order], pred.space, pred.container)
    readings = _readings(pred, fmt, bench.camera)
    label, xyz = readings[0]
    if len(readings) > 1:
        # Wrong readings are off by hundreds of mm; a few hundred frames across the file decide safely.
        sample = np.unique(np.linspace(0, gt.frames - 1, min(gt.frames, DECISION_FRAMES)).astype(int))
        scores = [float(metrics.joint_errors(x[sample], gt.xyz[sample]).mean()) for _, x in readings]
        label, xyz = readings[int(np.argmin(scores))]
    errors = np.asarray(metrics.joint_errors(xyz, gt.xyz))
    return MethodResult(
        prediction=str(path),
        method=name or method_name(path, bench.name),
        read_as=f"{pred.container}, {label}",
        errors=errors,
        success_max=np.asarray(metrics.success_rate(errors, metrics.SUCCESS_THRESHOLDS_MM, "max")),
    )


def evaluate_predictions(
    paths: Sequence[str | Path],
    gt: GroundTruth,
    fmt: FormatChoice = "auto",
    joint_order: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> list[MethodResult]:
    """Score several prediction files; the results come back sorted by mean error.

    Args:
        paths: Prediction files.
        gt: Ground truth.
        fmt: Coordinate format of every file (``"auto"`` decides per file).
        joint_order: Optional permutation applied to every file.
        names: Optional method names, one per file.
        on_file: Called after each file (progress display).
    """
    if names is not None and len(names) != len(paths):
        raise HandposeError(f"got {len(names)} names for {len(paths)} prediction files")
    results = []
    for i, path in enumerate(paths):
        results.append(evaluate_prediction(path, gt, fmt, joint_order, names[i] if names else None))
        if on_file is not None:
            on_file(str(path))
    return sorted(results, key=lambda r: r.mean_error_mm)


def results_json(gt: GroundTruth, results: Sequence[MethodResult]) -> dict[str, Any]:
    """The ``--json`` document: ``{"dataset", "ground_truth", "results": [...]}``."""
    return {
        "dataset": gt.benchmark.name,
        "ground_truth": gt.path,
        "results": [r.to_json() for r in results],
    }


__all__ = [
    "BENCHMARKS",
    "DepthBenchmark",
    "GroundTruth",
    "MethodResult",
    "evaluate_prediction",
    "evaluate_predictions",
    "get_benchmark",
    "load_ground_truth",
    "method_name",
    "parse_joint_order",
    "results_json",
]
