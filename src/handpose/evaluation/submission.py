"""Submission files for the benchmarks scored only on a server (or by the dataset's own script).

- FreiHAND ``pred.json`` (``lmb-freiburg/freihand`` ``pred.py`` ``dump`` / ``eval.py``): a JSON list of
  two lists, ``[xyz, verts]``; ``xyz`` holds one ``21 x 3`` list per evaluation sample (3,960, in
  ``evaluation/rgb`` order) in **metres**, camera frame (y down, z forward), FreiHAND's joint order.
- HO-3D v3 ``pred.json`` (``shreyashampali/ho3d`` ``pred.py`` / ``eval.py``): the same two lists, one
  entry per line of ``evaluation.txt`` (20,137 in v3), in metres and **OpenGL** axes (y up, the hand
  at negative z; ``pred.py`` refuses files whose depths are all positive), HO-3D's joint order.
- HANDS 2017 frame-based ``result.txt`` (the challenge behind CrossInfoNet's leaderboard numbers): one
  line per test frame (295,510), ``frame\\images\\<image name>`` then the 21 joints' ``x y z`` in mm
  (camera frame, BigHand order, the layout of ``Training_Annotation.txt``), every field separated by a
  tab; the server (CodaLab competition 17356) takes it as ``result.txt`` inside a zip. The layout is
  that of a public entry's writer (``mqne/GraphLSTM`` ``zip_results.py``), not an official page.
- HANDS 2019 Task 1 ``result.txt``: one line per test frame, the image name and the 21 joints'
  ``x y z`` in mm (BigHand order), every field separated by a tab, the layout of the training file
  ``training_joint_annotation.txt``; the server takes it zipped.

handpose predicts joints, not meshes: the ``verts`` entry of a ``pred.json`` repeats each frame's 21
predicted joints. Both evaluation scripts then treat the shape as not MANO (its vertex count is not
778) and report the mesh errors as -1; their F-scores on it carry no meaning.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.io import write_text_atomic

#: Evaluation-set sizes the servers expect (FreiHAND ``evaluation``, HO-3D v3 ``evaluation``).
FREIHAND_EVAL_FRAMES = 3960
HO3D_V3_EVAL_FRAMES = 20137
#: Test frames of the HANDS 2017 frame-based task (``frame/BoundingBox.txt``).
HANDS2017_TEST_FRAMES = 295510


def to_skeleton(joints_mm: np.ndarray, skeleton: str, target: str) -> np.ndarray:
    """``(N, J, 3)`` joints of ``skeleton`` in ``target``'s order; every target joint must exist."""
    joints = np.asarray(joints_mm, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise HandposeError(f"joints must be (frames, joints, 3), got shape {joints.shape}")
    out = joints if skeleton == target else skeletons.get(skeleton).convert(joints, target)
    if not np.all(np.isfinite(out)):
        raise HandposeError(f"the model's skeleton {skeleton!r} cannot give every joint of {target!r}")
    return out


def _pred_json(path: str | Path, xyz_m: np.ndarray) -> Path:
    # Plain floats with 6 decimals: micrometre precision, a third of the size of repr()'s digits.
    xyz = np.round(xyz_m, 6).tolist()
    text = json.dumps([xyz, xyz], separators=(",", ":"))
    write_text_atomic(path, text)
    return Path(path)


def write_freihand_pred(
    path: str | Path, joints_mm: np.ndarray, skeleton: str, expected_frames: int | None = FREIHAND_EVAL_FRAMES
) -> Path:
    """FreiHAND ``pred.json`` from camera-frame predictions in mm (handpose's axes: y down, z forward).

    Args:
        path: Output file.
        joints_mm: ``(N, J, 3)`` predictions in the order of the evaluation images.
        skeleton: The predictions' joint order.
        expected_frames: Refuse another frame count (``None``: accept any, e.g. a subset for a local check).
    """
    xyz = to_skeleton(joints_mm, skeleton, "freihand21")
    _check_frames(xyz, expected_frames, "FreiHAND's evaluation set")
    return _pred_json(path, xyz / 1000.0)


def write_ho3d_pred(
    path: str | Path, joints_mm: np.ndarray, skeleton: str, expected_frames: int | None = HO3D_V3_EVAL_FRAMES
) -> Path:
    """HO-3D v3 ``pred.json``: metres, OpenGL axes (x right, y up, z towards the viewer), HO-3D order.

    Args:
        path: Output file.
        joints_mm: ``(N, J, 3)`` predictions in handpose's camera frame, in ``evaluation.txt`` order.
        skeleton: The predictions' joint order.
        expected_frames: Refuse another frame count (``None``: accept any).
    """
    xyz = to_skeleton(joints_mm, skeleton, "ho3d21")
    _check_frames(xyz, expected_frames, "HO-3D v3's evaluation set")
    if np.any(xyz[..., 2] <= 0):
        raise HandposeError("HO-3D predictions must lie in front of the camera (positive depth in handpose's frame)")
    return _pred_json(path, xyz * np.array([1.0, -1.0, -1.0]) / 1000.0)


def write_hands2019_result(path: str | Path, frame_names: Sequence[str], joints_mm: np.ndarray, skeleton: str) -> Path:
    """HANDS 2019 Task 1 ``result.txt``: ``name<TAB>x1<TAB>y1<TAB>z1 ...`` per frame, mm, BigHand order.

    Args:
        path: Output file.
        frame_names: Image names (``IMG_D00000000.png``), one per frame, as the test list gives them.
        joints_mm: ``(N, J, 3)`` predictions in handpose's camera frame (the dataset's own: y down).
        skeleton: The predictions' joint order.
    """
    return _named_rows(path, frame_names, to_skeleton(joints_mm, skeleton, "hands2019"), prefix="")


def write_hands2017_result(path: str | Path, frame_names: Sequence[str], joints_mm: np.ndarray, skeleton: str) -> Path:
    """HANDS 2017 ``result.txt``: ``frame\\images\\name<TAB>x1<TAB>y1<TAB>z1 ...`` per frame, mm, BigHand order.

    Args:
        path: Output file (zip it as ``result.txt`` for the server).
        frame_names: Image names (``image_D00000001.png``) in ``BoundingBox.txt`` order; a folder part is dropped.
        joints_mm: ``(N, J, 3)`` predictions in handpose's camera frame (the dataset's own: y down).
        skeleton: The predictions' joint order.
    """
    # The server matches lines by the image path as the test set names it, Windows separators included.
    return _named_rows(path, frame_names, to_skeleton(joints_mm, skeleton, "hands2017"), prefix="frame\\images\\")


def _named_rows(path: str | Path, frame_names: Sequence[str], xyz: np.ndarray, prefix: str) -> Path:
    """One line per frame: ``prefix + name`` then the joints' coordinates, tab-separated, 4 decimals."""
    if len(frame_names) != len(xyz):
        raise HandposeError(f"{len(frame_names)} frame names for {len(xyz)} predictions")
    lines = []
    for name, frame in zip(frame_names, xyz):
        name = Path(str(name).replace("\\", "/")).name
        if not name or any(c.isspace() for c in name):
            raise HandposeError(f"frame name {name!r} is empty or holds whitespace")
        lines.append("\t".join([prefix + name, *(f"{v:.4f}" for v in frame.reshape(-1))]))
    write_text_atomic(path, "\n".join(lines) + "\n")
    return Path(path)


def read_pred_json(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A FreiHAND / HO-3D ``pred.json`` as ``(xyz, verts)`` arrays, in the file's units and axes."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HandposeError(f"cannot read a pred.json: {exc}", path) from None
    if not isinstance(data, list) or len(data) != 2:
        raise HandposeError("expected a JSON list [xyz, verts]", path)
    try:
        xyz = np.asarray(data[0], dtype=np.float64)
        verts = np.asarray(data[1], dtype=np.float64)
    except (TypeError, ValueError):
        raise HandposeError("xyz and verts must be lists of N x K x 3 numbers", path) from None
    if xyz.ndim != 3 or xyz.shape[1:] != (21, 3) or verts.ndim != 3 or len(verts) != len(xyz):
        raise HandposeError(f"xyz must be N x 21 x 3 and verts N x K x 3, got {xyz.shape} and {verts.shape}", path)
    return xyz, verts


def _check_frames(xyz: np.ndarray, expected: int | None, what: str) -> None:
    if expected is not None and len(xyz) != expected:
        raise HandposeError(f"{what} has {expected} frames; got predictions for {len(xyz)}")


__all__ = [
    "FREIHAND_EVAL_FRAMES",
    "HANDS2017_TEST_FRAMES",
    "HO3D_V3_EVAL_FRAMES",
    "read_pred_json",
    "to_skeleton",
    "write_freihand_pred",
    "write_hands2017_result",
    "write_hands2019_result",
    "write_ho3d_pred",
]
