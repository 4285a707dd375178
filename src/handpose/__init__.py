"""handpose: 3D hand pose estimation from a single depth or RGB image.

The public entry points are importable from the package root:

- :func:`create_model` / :func:`list_models` — the model registry.
- :mod:`handpose.skeleton` — joint conventions of every supported dataset.
- :mod:`handpose.geometry` — cameras, uvd <-> xyz, cube crops, Procrustes.
- :mod:`handpose.metrics` — the field's metrics as pure functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Estimator", "__version__", "create_model", "list_models"]

if TYPE_CHECKING:
    from handpose.inference import Estimator
    from handpose.models.registry import create_model, list_models


def __getattr__(name: str) -> Any:
    # Heavy modules (torch) load on first use so that `handpose --help` and the metrics stay fast.
    if name in ("create_model", "list_models"):
        from handpose.models import registry

        return getattr(registry, name)
    if name == "Estimator":
        from handpose.inference import Estimator

        return Estimator
    raise AttributeError(f"module 'handpose' has no attribute {name!r}")
