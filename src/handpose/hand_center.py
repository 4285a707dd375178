"""Where the hand is in a depth image: the crop centre of every depth crop (training, caches, prediction).

One home for the centre modes that the depth crop transform, the depth caches and prediction share:

- ``"gt"``: a labelled joint (the skeleton's root, else the mean of the finite joints);
- ``"com"``: the centre of mass of the depth inside a cube around a start (the given centre, else the
  labels, else the depth alone), refined as DeepPrior++'s ``refineCoMIterative`` does;
- ``"detect"``: the closest object in the depth, assumed to be the hand, then refined;
- ``"given"``: the sample's own centre (a centre file, or the user's).

The centre of mass follows DeepPrior++ (``util/handdetector.py``): the mean pixel position and mean
depth of the valid pixels inside a depth band, refined by re-cropping a shrinking cube around the
current estimate.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.geometry import Camera, CubeCrop, uvd_to_xyz

CenterMode = Literal["gt", "com", "detect", "given"]
CENTER_MODES: tuple[str, ...] = ("gt", "com", "detect", "given")

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


def find_center(
    depth: np.ndarray,
    camera: Camera,
    mode: str,
    cube: float,
    joints_xyz: np.ndarray,
    skeleton: str,
    given: np.ndarray | None = None,
    center_joint: int | None = None,
    iterations: int = 3,
    frame_id: str = "",
) -> np.ndarray:
    """The crop centre of one depth frame, camera mm ``(3,)``.

    Args:
        depth: ``(H, W)`` depth in mm.
        camera: Its intrinsics.
        mode: ``"gt"``, ``"com"``, ``"detect"`` or ``"given"`` (see the module docstring).
        cube: Cube edge in mm (the centre-of-mass window).
        joints_xyz: ``(J, 3)`` labels (NaN where unknown).
        skeleton: Their skeleton (its root is the ``"gt"`` joint).
        given: The frame's own centre, if any.
        center_joint: Joint to centre on instead of the skeleton's root.
        iterations: Centre-of-mass refinements.
        frame_id: Named in errors.

    Raises:
        HandposeError: An unknown mode, or a mode the frame lacks the data for.
    """
    if mode not in CENTER_MODES:
        raise HandposeError(f"unknown centre mode {mode!r}; use gt, com, detect or given")
    has_given = given is not None and bool(np.all(np.isfinite(given)))
    if mode == "given":
        if not has_given:
            raise HandposeError(f"{frame_id}: centre mode 'given' but the sample has no centre")
        return np.asarray(given, dtype=np.float64).reshape(3)
    if mode == "detect":
        return detect_center(depth, camera, cube, iterations)
    index = center_joint if center_joint is not None else skeletons.get(skeleton).root_index
    if mode == "gt":
        return joint_center(joints_xyz, index)
    # "com": start from the given centre, else the labels, else the depth alone.
    if has_given:
        start = np.asarray(given, dtype=np.float64).reshape(3)
    elif np.any(np.all(np.isfinite(joints_xyz), axis=-1)):
        start = joint_center(joints_xyz, index)
    else:
        return detect_center(depth, camera, cube, iterations)
    return refine_center(depth, camera, start, cube, iterations)
