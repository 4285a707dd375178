"""Draw a joint grouping on a hand (like Figure 4 of the Learnable Joint Groups paper) and write it as a PNG.

Joints are coloured by the group they are assigned to; bones inside one group take that group's
colour, bones across groups are grey. When selector probabilities are given, a second panel shows the
``J x K`` matrix. Without explicit 2D joints the hand is a fixed open right hand seen from the palm,
placed through each joint's canonical index so every skeleton draws the same way.

Example:
    >>> plot_model_grouping(create_model("learnable_groups_k3"), "grouping.png")
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.figures import pyplot, save_png

# An open right hand, palm towards the viewer, y up, in canonical21 order (unit: roughly palm length).
_TEMPLATE_2D = np.array(
    [
        (0.00, 0.00),  # wrist
        (-0.25, 0.25), (-0.45, 0.45), (-0.62, 0.62), (-0.76, 0.78),  # thumb CMC, MCP, IP, tip
        (-0.24, 0.95), (-0.28, 1.30), (-0.30, 1.52), (-0.32, 1.72),  # index MCP, PIP, DIP, tip
        (0.00, 1.00), (0.00, 1.40), (0.00, 1.64), (0.00, 1.86),  # middle
        (0.21, 0.95), (0.25, 1.30), (0.27, 1.52), (0.29, 1.70),  # ring
        (0.40, 0.85), (0.48, 1.10), (0.52, 1.27), (0.56, 1.43),  # little
    ],
    dtype=float,
)  # fmt: skip


def template_layout(skel: skeletons.Skeleton) -> np.ndarray:
    """``(J, 2)`` drawing positions for ``skel``'s joints from the canonical template (y up).

    Joints without a canonical counterpart sit at the mean of their placed neighbours (parent and
    children), or at the wrist when none is placed.
    """
    pos = np.full((skel.num_joints, 2), np.nan)
    for i, c in enumerate(skel.canonical_indices):
        if c is not None:
            pos[i] = _TEMPLATE_2D[c]
    for missing in np.flatnonzero(np.isnan(pos[:, 0])):
        i = int(missing)
        neighbours = [skel.parents[i]] + [c for c, p in enumerate(skel.parents) if p == i]
        placed = [pos[n] for n in neighbours if n >= 0 and not np.isnan(pos[n, 0])]
        pos[i] = np.mean(placed, axis=0) if placed else _TEMPLATE_2D[0]
    return pos


def plot_grouping(
    selection: Any,
    skeleton: str | skeletons.Skeleton,
    path: str | PathLike,
    joints_2d: Any | None = None,
    title: str | None = None,
) -> Path:
    """Write a PNG of the grouping.

    Args:
        selection: ``(J,)`` group index per joint, or ``(J, K)`` selection probabilities (numpy or
            torch); with probabilities each joint takes its most likely group and a matrix panel is added.
        skeleton: Skeleton of the joints.
        path: Output PNG path (written atomically).
        joints_2d: Optional ``(J, 2)`` positions to draw on (image convention: y down); the
            template hand is used otherwise.
        title: Figure title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    plt = pyplot()
    skel = skeletons.get(skeleton)
    sel = np.asarray(selection.detach().cpu() if hasattr(selection, "detach") else selection, dtype=float)
    if sel.ndim == 2 and sel.shape[0] == skel.num_joints:
        probs: np.ndarray | None = sel
        groups = sel.argmax(axis=1)
        num_groups = sel.shape[1]
    elif sel.ndim == 1 and sel.shape[0] == skel.num_joints:
        probs = None
        groups = sel.astype(int)
        num_groups = int(groups.max()) + 1 if groups.size else 1
    else:
        raise HandposeError(
            f"grouping plot: expected ({skel.num_joints},) assignments or ({skel.num_joints}, K) probabilities, "
            f"got shape {sel.shape}"
        )
    if joints_2d is None:
        xy = template_layout(skel)
    else:
        xy = np.asarray(joints_2d, dtype=float).reshape(skel.num_joints, 2) * np.array([1.0, -1.0])

    cmap = plt.get_cmap("tab10" if num_groups <= 10 else "tab20" if num_groups <= 20 else "gist_ncar")
    colours = [cmap(g % cmap.N) if num_groups <= 20 else cmap(g / num_groups) for g in range(num_groups)]
    panels = 2 if probs is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels, 5.5), squeeze=False)
    ax = axes[0, 0]
    for parent, child in skel.bones:
        same = groups[parent] == groups[child]
        ax.plot(
            xy[[parent, child], 0],
            xy[[parent, child], 1],
            color=colours[groups[child]] if same else "0.7",
            linewidth=3.0 if same else 1.5,
            zorder=1,
        )
    for g in range(num_groups):
        members = np.flatnonzero(groups == g)
        if members.size:
            ax.scatter(
                xy[members, 0], xy[members, 1], s=140, color=colours[g], edgecolor="k", zorder=2, label=f"group {g + 1}"
            )
    for i in range(skel.num_joints):
        ax.annotate(str(i), xy[i], textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="lower right", fontsize=7, ncol=1 if num_groups <= 6 else 2)
    ax.set_title("joint groups")
    if probs is not None:
        mat = axes[0, 1]
        shown = mat.imshow(probs, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(probs.max()), 1e-6))
        mat.set_xlabel("group")
        mat.set_ylabel("joint")
        mat.set_xticks(range(num_groups), [str(g + 1) for g in range(num_groups)], fontsize=7)
        mat.set_yticks(range(skel.num_joints), skel.joint_names, fontsize=6)
        mat.set_title("selection probability")
        fig.colorbar(shown, ax=mat, fraction=0.05)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


def plot_model_grouping(model: Any, path: str | PathLike, title: str | None = None) -> Path:
    """Draw a Learnable Groups model's current grouping (selector softmax, or its fixed groups)."""
    if not hasattr(model, "selection_probabilities"):
        raise HandposeError(f"{type(model).__name__} has no joint groups to draw")
    probs = model.selection_probabilities().detach().cpu().numpy()
    name = getattr(getattr(model, "spec", None), "name", type(model).__name__)
    return plot_grouping(probs, model.skeleton, path, title=title or f"{name}: K={probs.shape[1]}")
