"""Matplotlib for every module that draws: a display-free backend and atomic PNG writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handpose.io import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: it is slow to load)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | os.PathLike[str], dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` as PNG (atomically) and close it, also when writing fails.

    Args:
        fig: A matplotlib figure.
        path: The PNG file.
        dpi: Resolution of the file; the figure's own when not given.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi if dpi is not None else "figure")
    finally:
        pyplot().close(fig)
    return path
