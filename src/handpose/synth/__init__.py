"""Synthetic hand engine: articulated hands rendered to depth and RGB with exact labels.

- :mod:`handpose.synth.hand` — proportions, shape, joint limits, forward kinematics, geometry.
- :mod:`handpose.synth.poses` — pose sampler (uniform within limits and synergies), views, placement.
- :mod:`handpose.synth.scene` — occluders and cluttered depth backgrounds.
- :mod:`handpose.synth.raycast` — the compiled ray caster for analytic primitives (numba).
- :mod:`handpose.synth.mesh`, :mod:`handpose.synth.skin` — the WebXR hand mesh and its linear blend skinning.
- :mod:`handpose.synth.raster` — the compiled z-buffer triangle rasteriser.
- :mod:`handpose.synth.depth_noise`, :mod:`handpose.synth.compose` — depth sensor and RGB compositing kernels.
- :mod:`handpose.synth.render_depth`, :mod:`handpose.synth.render_rgb` — images from the z-buffer.
- :mod:`handpose.synth.frame` — :func:`render_frame`, one frame from ``(seed, index)``.
- :mod:`handpose.synth.writer` — the ``handpose-synth`` folder format.

The dataset classes are :class:`handpose.datasets.synthetic.SyntheticFolder` (registered as
``"synthetic"``) and :class:`handpose.datasets.synthetic.SyntheticStream`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["render_frame", "write_synthetic"]

if TYPE_CHECKING:
    from handpose.synth.frame import render_frame
    from handpose.synth.writer import write_synthetic


def __getattr__(name: str) -> Any:
    # numba compiles (or loads cached) kernels on import; only pay for that when rendering.
    if name == "render_frame":
        from handpose.synth.frame import render_frame

        return render_frame
    if name == "write_synthetic":
        from handpose.synth.writer import write_synthetic

        return write_synthetic
    raise AttributeError(f"module 'handpose.synth' has no attribute {name!r}")
