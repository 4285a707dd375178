"""Published hand centres for cube crops, read from their files.

(Centres found in the depth or taken from the labels are :mod:`handpose.hand_center`'s.)

- :func:`load_centers`: precomputed centre files — V2V-PoseNet's ``center_*_refined.txt`` (one
  ``x y z`` line per frame in *world* mm as V2V writes them, ``invalid`` for frames without a hand)
  and A2J's ``*_center_test.mat`` (key ``centre_pixel``, ``N x 1 x 3`` pixel u, v and depth mm).
  Both come back as ``(N, 3)`` camera mm in handpose's frame (NaN rows where invalid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.geometry import Camera, uvd_to_xyz
from handpose.hand_center import (  # noqa: F401 - the centre finders' old import path
    MAX_DEPTH_MM,
    MIN_DEPTH_MM,
    center_of_mass,
    detect_center,
    joint_center,
    refine_center,
)
from handpose.safe_read import read_text


def load_v2v_centers(path: str | Path) -> np.ndarray:
    """V2V-PoseNet centre list: one line per frame, ``x y z`` mm, or ``invalid``.

    V2V writes NYU and MSRA centres with y up (its ``pixel2world``): pass ``y_up=True`` through
    :func:`load_centers` for those; ICVL's are y down.

    Returns:
        ``(N, 3)`` float64, NaN rows for ``invalid`` lines.
    """
    path = Path(path)
    text = read_text(path, "list", "centre list", encoding="ascii")
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 1 and parts[0].lower() == "invalid":
            rows.append([np.nan] * 3)
            continue
        if len(parts) != 3:
            raise HandposeError(f"expected 3 numbers (x y z mm) or 'invalid', got {len(parts)} fields", path, lineno)
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise HandposeError(f"not a number in {line.strip()!r}", path, lineno) from None
        if not all(np.isfinite(vals)):
            raise HandposeError("non-finite centre (write 'invalid' for frames without a hand)", path, lineno)
        rows.append(vals)
    if not rows:
        raise HandposeError("centre list is empty", path)
    return np.asarray(rows, dtype=np.float64)


def load_a2j_centers(path: str | Path, key: str = "centre_pixel") -> np.ndarray:
    """A2J centre file: a MATLAB .mat with ``key`` of shape ``(N, 1, 3)`` (or ``(N, 3)``) pixel u, v, depth mm.

    Returns:
        ``(N, 3)`` uvd, float64.
    """
    from handpose.datasets.matfile import load_mat

    data = load_mat(path)
    if key not in data:
        raise HandposeError(f"no variable {key!r} (found: {', '.join(sorted(data)) or 'none'})", path)
    arr = np.asarray(data[key])
    if arr.dtype.kind not in "fiu" or arr.ndim not in (2, 3) or arr.shape[-1] != 3 or arr.size // 3 != arr.shape[0]:
        raise HandposeError(f"{key} must be N x 1 x 3 numbers (u, v, depth), got shape {arr.shape}", path)
    uvd = arr.reshape(-1, 3).astype(np.float64)
    if not np.all(np.isfinite(uvd)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(uvd), axis=1))[0])
        raise HandposeError(f"{key} row {bad} is not finite", path)
    return uvd


def load_centers(path: str | Path, camera: Camera, y_up: bool = False) -> np.ndarray:
    """Any supported centre file as ``(N, 3)`` camera mm in handpose's frame.

    Args:
        path: ``.mat`` (A2J, uvd) or text (V2V, xyz mm).
        camera: Converts A2J's uvd to xyz.
        y_up: The text file's y axis points up (V2V's NYU centres): flip it.
    """
    path = Path(path)
    if path.suffix.lower() == ".mat":
        uvd = load_a2j_centers(path)
        return uvd_to_xyz(uvd, camera.y_down())
    xyz = load_v2v_centers(path)
    if y_up:
        xyz[:, 1] = -xyz[:, 1]
    return xyz
