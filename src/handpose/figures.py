"""Matplotlib for every module that draws: a display-free backend and atomic PNG writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handpose.io import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: it is slow to load)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG (atomically) and close it, also when writing fails."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        pyplot().close(fig)
    return path
