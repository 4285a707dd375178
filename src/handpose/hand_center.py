"""Where the hand is in a depth image: the crop centre of every depth crop (training, caches, prediction).

One home for the centre modes that the depth crop transform, the depth caches and prediction share:

- ``"gt"``: a labelled joint (the skeleton's root, else the mean of the finite joints);
- ``"com"``: the centre of mass of the depth inside a cube around a start (the given centre, else the
  labels, else the depth alone), refined as DeepPrior++'s ``refineCoMIterative`` does;
- ``"detect"``: the depth alone: the nearest hand-sized surface (the hand, often with a forearm and
  sleeve nearer to the camera than the hand), its end away from where the arm leaves, then refined;
- ``"given"``: the sample's own centre (a centre file, or the user's).

The centre of mass follows DeepPrior++ (``util/handdetector.py``): the mean pixel position and mean
depth of the valid pixels inside a depth band, refined by re-cropping a shrinking cube around the
current estimate.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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


# The depth is segmented on a grid of about this many columns: fine enough to keep a finger's width,
# coarse enough that labelling a 640x480 frame takes well under a millisecond.
SEGMENT_COLUMNS = 160
# Neighbouring grid pixels lie on one surface when their depths differ by less than JUMP_MM plus
# JUMP_SLOPE times their spacing in mm (a surface tilted up to about 60 degrees stays whole).
JUMP_MM = 20.0
JUMP_SLOPE = 2.0
# Visible area (mm^2) of a hand with its forearm and sleeve: a smaller surface is a fingertip or sensor
# noise, a larger one (within the depth reach) a wall, a table or the body the arm belongs to.
MIN_AREA_MM2 = 2500.0
MAX_AREA_MM2 = 60000.0
# A surface bordering the chosen one with a depth step under this (mm) belongs to the same arm: a
# sleeve's cuff stands this far off the skin, and the wrist can lie behind the cuff's rim.
MERGE_GAP_MM = 60.0
# Surfaces are cut at this many cubes behind their nearest point, so that an arm joined to a body
# still ends somewhere; the cut, like the image border, marks where the arm leaves.
REACH_CUBES = 1.5
# Spread (mm) out of its plane under which a surface is flat: a table or wall, never a hand or arm.
FLAT_MM = 5.0
# Surfaces tried, nearest first, before falling back to the nearest depth band.
MAX_TRIES = 8
# The hand is the part of the arm's surface within this distance (mm) of its hand end along the axis.
HAND_LENGTH_MM = 110.0
# Weights of the cues that tell a floating arm's hand end (see hand_end), in mm of thickness: one mm
# of thickness counts as much as DEPTH_PER_THICKNESS mm nearer to the camera, and a width variation
# (std over mean of WIDTH_SLICE_MM slices) of 0.1 as much as one mm. Chosen on rendered frames.
DEPTH_PER_THICKNESS = 40.0
THICKNESS_PER_WIDTH_VARIATION = 10.0
WIDTH_SLICE_MM = 20.0


def _label_surfaces(
    depth: np.ndarray, lo: float, hi: float, jump_mm: float, jump_per_mm: float, spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4-connected surfaces of the pixels in ``[lo, hi]``.

    Two neighbours join when their depths differ by at most ``jump_mm + jump_per_mm * spacing * d``,
    ``d`` the farther of the two (a pixel spans ``spacing * d`` mm).

    Returns:
        The label image (-1 outside every surface; surfaces numbered in raster order of their first
        pixel) and, per surface, its nearest depth and visible area in mm^2.
    """
    h, w = depth.shape
    inside = (depth >= lo) & (depth <= hi)  # NaN is outside
    n = int(inside.sum())
    index = -np.ones((h, w), np.int64)
    index[inside] = np.arange(n)
    labels = -np.ones((h, w), np.int32)
    if n == 0:
        return labels, np.empty(0), np.empty(0)
    sources, targets = [], []
    for a, b in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :])):
        da, db = depth[a], depth[b]
        joined = inside[a] & inside[b]
        joined &= np.abs(da - db) <= jump_mm + jump_per_mm * spacing * np.maximum(da, db)
        sources.append(index[a][joined])
        targets.append(index[b][joined])
    edges = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(edges[0].size, np.int8), edges), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    labels[inside] = component
    values = depth[inside].astype(np.float64)
    count = int(component.max()) + 1
    nearest = np.full(count, np.inf)
    np.minimum.at(nearest, component, values)
    area = np.bincount(component, weights=(spacing * values) ** 2, minlength=count)
    return labels, nearest, area


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` and its 4-neighbours."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _touching(labels: np.ndarray, grid: np.ndarray, surface: np.ndarray, gap: float) -> list[int]:
    """Labels of the other surfaces that border ``surface`` with a depth step under ``gap`` mm."""
    found: set[int] = set()
    for a, b in (
        (np.s_[1:, :], np.s_[:-1, :]),
        (np.s_[:-1, :], np.s_[1:, :]),
        (np.s_[:, 1:], np.s_[:, :-1]),
        (np.s_[:, :-1], np.s_[:, 1:]),
    ):
        other = labels[b]
        near = surface[a] & (other >= 0) & ~surface[b] & (np.abs(grid[a] - grid[b]) < gap)
        found.update(int(j) for j in np.unique(other[near]))
    return sorted(found)


def arm_surface(depth: np.ndarray, camera: Camera, cube: float = 250.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The nearest hand-sized surface in the depth: the hand, usually with its forearm (and sleeve).

    The depth is split into surfaces where neighbouring depths jump; surfaces are tried nearest first,
    each cut at ``REACH_CUBES * cube`` mm behind its nearest point, and the first whose visible area is
    that of a hand and arm wins (walls, tables and bodies are larger, fingertips and noise smaller),
    unless it is a flat strip leaving the image or the reach at both ends (a table seen at a grazing
    angle splits into such strips).

    Returns:
        Its points ``(N, 3)`` in camera mm (on a grid of about ``SEGMENT_COLUMNS`` columns) and a mask
        ``(N,)`` of its exits: points at the image border or next to where it was cut, i.e. where an arm
        leaves; ``None`` when no surface qualifies.
    """
    step = max(1, round(depth.shape[1] / SEGMENT_COLUMNS))
    grid = np.ascontiguousarray(depth[::step, ::step], dtype=np.float32)
    spacing = step / abs(float(camera.fx))
    labels, nearest, area = _label_surfaces(grid, MIN_DEPTH_MM, MAX_DEPTH_MM, JUMP_MM, JUMP_SLOPE, spacing)
    order = [int(k) for k in np.argsort(nearest, kind="stable") if area[k] >= MIN_AREA_MM2]
    for k in order[:MAX_TRIES]:
        surface = labels == k
        joined = [j for j in _touching(labels, grid, surface, MERGE_GAP_MM) if area[j] <= MAX_AREA_MM2]
        if joined:
            surface |= np.isin(labels, joined)
        kept = surface & (grid <= nearest[k] + REACH_CUBES * cube)
        ys, xs = np.nonzero(kept)
        d = grid[ys, xs].astype(np.float64)
        if not MIN_AREA_MM2 <= float(np.sum((spacing * d) ** 2)) <= MAX_AREA_MM2:
            continue
        border = np.zeros_like(kept)
        border[:2], border[-2:], border[:, :2], border[:, -2:] = True, True, True, True
        exits = (border | _grow(surface & ~kept))[ys, xs]
        u, v = xs * float(step), ys * float(step)
        points = np.stack([(u - camera.cx) * d / camera.fx, (v - camera.cy) * d / camera.fy, d], axis=1)
        if _flat_strip(points, exits):
            continue
        return points, exits
    return None


def _main_axis(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, centred points, and principal directions (columns, the main one last)."""
    mean = points.mean(axis=0)
    centred = points - mean
    return mean, centred, np.linalg.eigh(centred.T @ centred)[1]


def _flat_strip(points: np.ndarray, exits: np.ndarray) -> bool:
    """Whether a long surface is flat and leaves the image (or the depth reach) at both ends: a strip of
    a table, floor or wall. An arm leaves at one end, and neither it nor its hand is ever that flat."""
    if np.count_nonzero(exits) < 3:
        return False
    _, centred, axes = _main_axis(points)
    t = centred @ axes[:, -1]
    lo, hi = float(t.min()), float(t.max())
    end = 0.15 * (hi - lo)
    out = t[exits]
    crosses = hi - lo > 1.5 * HAND_LENGTH_MM and out.min() <= lo + end and out.max() >= hi - end
    return crosses and _thickness(points) < FLAT_MM


def _thickness(points: np.ndarray) -> float:
    """Spread (mm) of ``points`` along their thinnest direction."""
    centred = points - points.mean(axis=0)
    return float(np.sqrt(max(np.linalg.eigvalsh(centred.T @ centred / len(points))[0], 0.0)))


def _width_variation(across: np.ndarray, along: np.ndarray) -> float:
    """Spread of the widths of ``WIDTH_SLICE_MM`` slices (std over mean): ``across`` and ``along`` are
    the points' coordinates across and along the axis."""
    slices = np.floor(along / WIDTH_SLICE_MM).astype(np.int64)
    widths = [float(np.ptp(across[slices == k])) for k in np.unique(slices) if np.count_nonzero(slices == k) >= 3]
    if len(widths) < 2:
        return 0.0
    return float(np.std(widths) / max(np.mean(widths), 1.0))


def hand_end(points: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """Centre ``(3,)`` of the hand end of an arm's surface points.

    The surface's main axis runs from the hand to where the arm leaves. The hand is the end away from
    the exits (image border or depth cut) when there are any. Otherwise it is the end that stands
    further out of its plane (fingers and thumb leave the palm's plane, a forearm's end is a smooth
    shell) and whose width changes more (wrist, palm, fingers; a forearm or sleeve keeps its width),
    with a nearer end preferred (weights chosen on rendered frames; ``benchmarks/bench_hand_center.py``
    measures the result). A surface shorter than an arm is all hand.
    """
    mean, centred, axes = _main_axis(points)
    t = centred @ axes[:, -1]
    lo, hi = float(t.min()), float(t.max())
    if hi - lo <= 1.5 * HAND_LENGTH_MM:
        return mean
    at_hi, at_lo = t >= hi - HAND_LENGTH_MM, t <= lo + HAND_LENGTH_MM
    if np.count_nonzero(exits) >= 3:
        hand_at_hi = float(t[exits].mean()) < (lo + hi) / 2
    else:
        across = centred @ axes[:, -2]
        nearer = float(points[at_lo, 2].mean() - points[at_hi, 2].mean())
        score = (
            _thickness(points[at_hi])
            - _thickness(points[at_lo])
            + nearer / DEPTH_PER_THICKNESS
            + THICKNESS_PER_WIDTH_VARIATION
            * (_width_variation(across[at_hi], t[at_hi]) - _width_variation(across[at_lo], t[at_lo]))
        )
        hand_at_hi = score > 0
    return points[at_hi if hand_at_hi else at_lo].mean(axis=0)


def nearest_band_center(
    depth: np.ndarray, camera: Camera, cube: float = 250.0, iterations: int = 3, near_percentile: float = 0.5
) -> np.ndarray:
    """Centre of mass of the pixels within ``cube`` mm behind a low depth percentile, then refined.

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


def detect_center(
    depth: np.ndarray, camera: Camera, cube: float = 250.0, iterations: int = 3, near_percentile: float = 0.5
) -> np.ndarray:
    """Hand centre from the depth alone.

    Finds the nearest hand-sized surface (:func:`arm_surface`: the hand, often with its forearm and
    sleeve nearer to the camera than the hand itself), takes the centre of its hand end
    (:func:`hand_end`), and moves that once to the centre of mass inside a cube of half ``cube``
    (:func:`refine_center`). Without such a surface it falls back to :func:`nearest_band_center`
    (``iterations`` and ``near_percentile`` are that fallback's).

    Raises:
        HandposeError: The image has no valid depth in [10, 1500] mm.
    """
    if not np.any((depth >= MIN_DEPTH_MM) & (depth <= MAX_DEPTH_MM)):
        raise HandposeError("no valid depth in [10, 1500] mm to find the hand in")
    surface = arm_surface(depth, camera, cube)
    if surface is None:
        return nearest_band_center(depth, camera, cube, iterations, near_percentile)
    return refine_center(depth, camera, hand_end(*surface), cube / 2, 1)


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
