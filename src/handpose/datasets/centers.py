"""Hand centres for cube crops: from the depth image, from ground-truth joints, or from published files.

- :func:`center_of_mass` / :func:`refine_center` / :func:`detect_center`: the DeepPrior++ approach
  (``util/handdetector.py``): the centre of mass (mean pixel position and mean depth) of the valid
  pixels inside a depth band, refined by re-cropping a shrinking cube around the current estimate.
- :func:`joint_center`: one ground-truth joint (or the mean of the finite joints).
- :func:`load_centers`: precomputed centre files — V2V-PoseNet's ``center_*_refined.txt`` (one
  ``x y z`` line per frame in *world* mm as V2V writes them, ``invalid`` for frames without a hand)
  and A2J's ``*_center_test.mat`` (key ``centre_pixel``, ``N x 1 x 3`` pixel u, v and depth mm).
  Both come back as ``(N, 3)`` camera mm in handpose's frame (NaN rows where invalid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.geometry import Camera, CubeCrop, uvd_to_xyz

# DeepPrior++'s calculateCoM band limits, mm.
MIN_DEPTH_MM = 10.0
MAX_DEPTH_MM = 1500.0


def center_of_mass(
    depth: np.ndarray, min_depth: float = MIN_DEPTH_MM, max_depth: float = MAX_DEPTH_MM
) -> np.ndarray | None:
    """Mean ``(u, v, d)`` of the pixels with ``min_depth <= d <= max_depth``; ``None`` if there are none."""
    mask = (depth >= min_depth) & (depth <= max_depth)
    count = int(np.count_nonzero(mask))
    if count == 0:
        return None
    # Row and column sums instead of np.nonzero: no index arrays, same means.
    per_row = mask.sum(axis=1, dtype=np.float64)
    per_col = mask.sum(axis=0, dtype=np.float64)
    v = float(per_row @ np.arange(mask.shape[0], dtype=np.float64)) / count
    u = float(per_col @ np.arange(mask.shape[1], dtype=np.float64)) / count
    d = float(np.sum(depth, where=mask, dtype=np.float64)) / count
    return np.array([u, v, d])


def _window(depth: np.ndarray, crop: CubeCrop) -> tuple[np.ndarray, int, int]:
    """The image rows/columns the crop's box covers (clipped), with its top-left corner."""
    u, v, _ = crop.center_uvd
    half = crop.out_size / (2 * crop.scale)
    h, w = depth.shape
    x0, x1 = max(int(np.floor(u - half)), 0), min(int(np.ceil(u + half)) + 1, w)
    y0, y1 = max(int(np.floor(v - half)), 0), min(int(np.ceil(v + half)) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return depth[:0, :0], x0, y0
    return depth[y0:y1, x0:x1], x0, y0


def refine_center(
    depth: np.ndarray, camera: Camera, center_xyz: np.ndarray, cube: float = 250.0, iterations: int = 3
) -> np.ndarray:
    """Move ``center_xyz`` to the centre of mass of the depth inside a cube around it, repeatedly.

    Iteration ``k`` (0-based) uses a cube of ``cube * (iterations - k) / iterations`` (DeepPrior++'s
    ``refineCoMIterative`` shrinks the cube the same way), keeping pixels inside the cube's depth band.
    When a step finds no pixels the previous estimate is kept.

    Returns:
        ``(3,)`` camera mm.
    """
    current = np.asarray(center_xyz, dtype=np.float64).reshape(3)
    for k in range(max(int(iterations), 1)):
        size = cube * (iterations - k) / max(iterations, 1)
        if not np.all(np.isfinite(current)) or current[2] <= 0:
            break
        crop = CubeCrop.around(current, size, camera)
        window, x0, y0 = _window(depth, crop)
        com = center_of_mass(window, current[2] - size / 2, current[2] + size / 2)
        if com is None:
            break
        com[0] += x0
        com[1] += y0
        current = uvd_to_xyz(com, camera)
    return current


def detect_center(
    depth: np.ndarray, camera: Camera, cube: float = 250.0, iterations: int = 3, near_percentile: float = 0.5
) -> np.ndarray:
    """Hand centre from the depth alone: the closest object, assumed to be the hand.

    Takes the pixels within ``cube`` mm behind the nearest valid depth (a low percentile, so isolated
    noise does not decide), their centre of mass, then :func:`refine_center`.

    Raises:
        HandposeError: The image has no valid depth in [10, 1500] mm.
    """
    valid = depth[(depth >= MIN_DEPTH_MM) & (depth <= MAX_DEPTH_MM)]
    if valid.size == 0:
        raise HandposeError("no valid depth in [10, 1500] mm to find the hand in")
    near = float(np.percentile(valid, near_percentile))
    com = center_of_mass(depth, near, near + cube)
    if com is None:  # pragma: no cover - the band contains at least the percentile pixel
        raise HandposeError("no valid depth near the camera to find the hand in")
    return refine_center(depth, camera, uvd_to_xyz(com, camera), cube, iterations)


def joint_center(joints_xyz: np.ndarray, index: int | None = None) -> np.ndarray:
    """Joint ``index`` as the centre, or the mean of the finite joints when ``index`` is None or not finite.

    Raises:
        HandposeError: No joint is finite.
    """
    joints = np.asarray(joints_xyz, dtype=np.float64)
    if index is not None and np.all(np.isfinite(joints[index])):
        return joints[index].copy()
    finite = np.all(np.isfinite(joints), axis=-1)
    if not finite.any():
        raise HandposeError("no finite joint to centre the crop on")
    return joints[finite].mean(axis=0)


def load_v2v_centers(path: str | Path) -> np.ndarray:
    """V2V-PoseNet centre list: one line per frame, ``x y z`` mm, or ``invalid``.

    V2V writes NYU and MSRA centres with y up (its ``pixel2world``): pass ``y_up=True`` through
    :func:`load_centers` for those; ICVL's are y down.

    Returns:
        ``(N, 3)`` float64, NaN rows for ``invalid`` lines.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise HandposeError(f"cannot read centre list: {exc}", path) from None
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
