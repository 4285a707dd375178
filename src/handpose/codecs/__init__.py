"""Target encoding and decoding: the one home of every representation a model predicts.

Each module owns one representation, with its exact inverse, for numpy arrays and torch tensors:

- :mod:`~handpose.codecs.cube`: the depth models' cube-normalised joints and ``joints_crop``, and the
  depth pixels themselves (normalisation and the missing-depth policy);
- :mod:`~handpose.codecs.uvz`: 2.5D (``"uvz"``) and root-relative (``"rel"``) joints of RGB models;
- :mod:`~handpose.codecs.heatmap`: heatmap targets and their argmax decoding;
- :mod:`~handpose.codecs.bones`: bone vectors on a skeleton's kinematic tree.

:func:`decode_batch` is the one place that turns a model's ``outputs["joints"]`` back into
camera-space millimetres, keyed by the model spec's output space; training, inference and evaluation
all call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handpose.errors import HandposeError

OUTPUT_SPACES: tuple[str, ...] = ("cube", "uvz", "rel")


def decode_batch(
    joints: Any,
    batch: Mapping[str, Any],
    space: str,
    crop_size: int | None = None,
    skeleton: Any = None,
    bounded: bool = False,
) -> Any:
    """Model outputs in ``space`` -> camera-space mm, with the crop geometry a batch carries.

    Args:
        joints: ``(B, J, 3)`` model output ``"joints"`` (numpy or torch; the result has its type, and
            torch results keep gradients).
        batch: The batch (or any mapping holding its geometry keys):

            - ``"cube"``: ``center_xyz``, ``cube``, ``rotation_deg``, ``camera``
              (:class:`~handpose.batch.DepthBatch`);
            - ``"uvz"``: ``K_crop`` and ``scale``, plus ``root_xyz`` when known; without it the root
              depth is recovered from the 2.5D joints and ``scale`` (an unlabelled photo, where
              ``scale`` is the assumed hand size);
            - ``"rel"``: ``root_xyz`` and ``scale``.
        space: The model's output space (``ModelSpec.output_space``).
        crop_size: Side of the crop in pixels (``"uvz"`` only); read from ``batch["image"]`` when omitted.
        skeleton: Skeleton (or name) of the joints; needed only to recover the root depth of ``"uvz"``
            joints when the batch has no ``root_xyz`` (numpy only).
        bounded: Clip ``"cube"`` joints to the crop cube first (:func:`handpose.codecs.cube.bound`):
            predictions are, training targets and losses are not.

    Returns:
        ``(B, J, 3)`` camera-space mm.

    Raises:
        HandposeError: Unknown space, or a batch without the geometry the space needs.
    """
    if space not in OUTPUT_SPACES:
        raise HandposeError(f"unknown output space {space!r}; expected one of {', '.join(OUTPUT_SPACES)}")
    needed = {
        "cube": ("center_xyz", "cube", "rotation_deg", "camera"),
        "uvz": ("K_crop", "scale"),
        "rel": ("root_xyz", "scale"),
    }
    missing = [k for k in needed[space] if k not in batch]
    if missing:
        raise HandposeError(
            f"decoding {space!r} joints needs {', '.join(missing)} in the batch (has {', '.join(sorted(batch))})"
        )
    if space == "cube":
        from handpose.codecs import cube

        if bounded:
            joints = cube.bound(joints)
        return cube.decode(joints, batch["center_xyz"], batch["cube"], batch["rotation_deg"], batch["camera"])
    from handpose.codecs import uvz

    if space == "rel":
        return uvz.decode_rel(joints, _like(joints, batch["root_xyz"]), _like(joints, batch["scale"]))
    if crop_size is None:
        if "image" not in batch:
            raise HandposeError("decoding 'uvz' joints needs crop_size or the batch's image")
        crop_size = int(batch["image"].shape[-1])
    k_crop, scale = _like(joints, batch["K_crop"]), _like(joints, batch["scale"])
    if "root_xyz" in batch:
        return uvz.decode_uvz(joints, k_crop, int(crop_size), _like(joints, batch["root_xyz"])[..., 2], scale)
    if skeleton is None:
        raise HandposeError("decoding 'uvz' joints without root_xyz needs the skeleton (to find the scale bone)")
    return uvz.lift_uvz(joints, k_crop, int(crop_size), skeleton, scale)


def _like(reference: Any, value: Any) -> Any:
    """``value`` as the array type of ``reference``: a tensor on its device and dtype, else float64 numpy."""
    import sys

    import numpy as np

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(reference, torch.Tensor):
        dtype = reference.dtype if reference.dtype.is_floating_point else torch.float32
        return torch.as_tensor(value, dtype=dtype, device=reference.device)
    return np.asarray(value, dtype=np.float64)
