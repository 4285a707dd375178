"""Training losses, registered by name and kept apart from the networks.

A loss is an ``nn.Module`` called as ``loss(outputs, batch) -> dict[str, Tensor]``; the dict holds
the total under ``"loss"`` and each weighted term under its own name (for logging). ``outputs`` is
the model's output dict, ``batch`` a :class:`handpose.batch.DepthBatch` or
:class:`handpose.batch.RGBBatch` whose targets the codecs encoded (losses render nothing themselves).
Importing this package registers every loss it ships.
"""

from handpose.losses.registry import check_loss, create_loss, register_loss

__all__ = ["check_loss", "create_loss", "register_loss"]

from handpose.losses import depth as depth
from handpose.losses import rgb as rgb
