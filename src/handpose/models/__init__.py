"""Networks. Importing this package registers every model it ships (see :mod:`.registry`)."""

from handpose.models.registry import ModelSpec, create_model, get_spec, list_models, register_model

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "register_model"]

# Depth models (the loss each trains with is data in its registry entry: handpose.losses stays apart).
from handpose.models import crossinfonet as crossinfonet
from handpose.models import fingerposenet as fingerposenet
from handpose.models import holistic as holistic

# RGB models.
from handpose.models import learnable_groups as learnable_groups
from handpose.models import resunet as resunet
